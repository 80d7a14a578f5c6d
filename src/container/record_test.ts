import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  ContainerExistsError,
  ContainerNotFoundError,
  type ContainerRecord,
  ContainerStore,
  isAlive,
  parseProcStat,
  partialDirName,
  procStartTime,
  readProcStat,
  validateId,
} from "./record.ts";

function record(id: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    bundle: "/b",
    rootfs: "/b/rootfs",
    status: "created",
    pid: 0,
    initStartTime: "",
    created: "2024-01-02T03:04:05.000Z",
    annotations: { "io.x": "y" },
    sandboxId: id,
    socketPath: `/run/runts/${id}/sock`,
    pidFileUsed: false,
    owner: "",
    ...over,
  };
}

async function withStore(fn: (store: ContainerStore, root: string) => Promise<void> | void) {
  const root = await Deno.makeTempDir();
  try {
    await fn(new ContainerStore(`${root}/state`), `${root}/state`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

Deno.test("validateId() accepts runc's id characters and rejects the rest", async (t) => {
  for (const id of ["web", "a.b-c_d+e", "0123456789abcdef".repeat(4), "x".repeat(255)]) {
    await t.step(`accepts ${id.slice(0, 20)}`, () => validateId(id));
  }
  const bad: [string, string][] = [
    ["", 'invalid container id "": must not be empty'],
    [".", 'invalid container id "."'],
    ["..", 'invalid container id ".."'],
    ["a/b", 'invalid container id "a/b": only letters, digits and "_+-." are allowed'],
    ["a b", 'invalid container id "a b": only letters, digits and "_+-." are allowed'],
    ["a,b", 'invalid container id "a,b": only letters, digits and "_+-." are allowed'],
    ["x".repeat(256), `invalid container id "${"x".repeat(256)}": longer than 255 characters`],
  ];
  for (const [id, msg] of bad) {
    await t.step(`rejects ${JSON.stringify(id.slice(0, 20))}`, () => {
      assertEquals(assertThrows(() => validateId(id)).message, msg);
    });
  }
});

Deno.test("ContainerStore.create() makes a 0700 directory with the record", () =>
  withStore((store, root) => {
    const rec = store.create("web", record("web"));
    assertEquals(rec.id, "web");
    assertEquals(Deno.statSync(root).mode! & 0o777, 0o700);
    assertEquals(Deno.statSync(`${root}/web`).mode! & 0o777, 0o700);
    assertEquals(Deno.statSync(`${root}/web/state.json`).mode! & 0o777, 0o600);
    assertEquals(JSON.parse(Deno.readTextFileSync(`${root}/web/state.json`)), record("web"));
    assertEquals(store.load("web"), record("web"));
    assert(store.exists("web"));
  }));

Deno.test("ContainerStore.create() refuses an existing id", () =>
  withStore((store) => {
    store.create("web", record("web"));
    const e = assertThrows(
      () => store.create("web", record("web", { pid: 5 })),
      ContainerExistsError,
    );
    assertEquals(e.message, 'container "web" already exists');
    assertEquals(store.load("web").pid, 0);
  }));

Deno.test("ContainerStore.create() checks the id before touching the disk", () =>
  withStore((store, root) => {
    const e = assertThrows(() => store.create("../x", record("../x")));
    assertEquals(
      e.message,
      'invalid container id "../x": only letters, digits and "_+-." are allowed',
    );
    assertEquals(store.exists("x"), false);
    assertThrows(() => Deno.statSync(root), Deno.errors.NotFound);
  }));

Deno.test("ContainerStore.load() names an unknown id", () =>
  withStore((store) => {
    const e = assertThrows(() => store.load("nope"), ContainerNotFoundError);
    assertEquals(e.message, 'container "nope" does not exist');
    assertEquals((e as ContainerNotFoundError).id, "nope");
  }));

Deno.test("ContainerStore.load() names a damaged state file", () =>
  withStore((store, root) => {
    store.create("web", record("web"));
    Deno.writeTextFileSync(`${root}/web/state.json`, "{");
    const e = assertThrows(() => store.load("web"));
    assert(e.message.startsWith(`container "web": ${root}/web/state.json: `), e.message);
    Deno.writeTextFileSync(`${root}/web/state.json`, '{"id": "other", "pid": 1}');
    assertEquals(
      assertThrows(() => store.load("web")).message,
      `container "web": ${root}/web/state.json: not a container record`,
    );
  }));

Deno.test("ContainerStore.save() replaces state.json by rename and leaves no .tmp", () =>
  withStore((store, root) => {
    const rec = store.create("web", record("web"));
    const before = Deno.statSync(`${root}/web/state.json`).ino;
    // A crashed writer's leftover does not get in the way.
    Deno.writeTextFileSync(`${root}/web/state.json.tmp`, "garbage");
    rec.status = "running";
    rec.pid = 1234;
    store.save(rec);
    const after = Deno.statSync(`${root}/web/state.json`).ino;
    assert(before !== after, "state.json was rewritten in place, not renamed over");
    const names = [...Deno.readDirSync(`${root}/web`)].map((e) => e.name).sort();
    assertEquals(names, ["lock", "state.json"]);
    assertEquals(store.load("web"), {
      ...record("web"),
      status: "running",
      pid: 1234,
    });
  }));

Deno.test("ContainerStore.save() of a removed container names the id", () =>
  withStore((store) => {
    const rec = store.create("web", record("web"));
    store.remove("web");
    assertEquals(
      assertThrows(() => store.save(rec), ContainerNotFoundError).message,
      'container "web" does not exist',
    );
  }));

Deno.test("ContainerStore.withLock() re-enters in the same process and returns fn's value", () =>
  withStore((store) => {
    const rec = store.create("web", record("web"));
    const got = store.withLock("web", () =>
      store.withLock("web", () => {
        rec.status = "running";
        store.save(rec); // takes the lock again: must not deadlock
        return 42;
      }));
    assertEquals(got, 42);
    assertEquals(store.load("web").status, "running");
  }));

Deno.test("ContainerStore.withLock() refuses an async function", () =>
  withStore((store) => {
    store.create("web", record("web"));
    const e = assertThrows(() => store.withLock("web", () => Promise.resolve(1)), TypeError);
    assertEquals(
      e.message,
      "withLock() needs a synchronous function: the lock is already released",
    );
  }));

Deno.test("ContainerStore.withLock() waits for another process that holds the lock", () =>
  withStore(async (store, root) => {
    store.create("web", record("web"));
    const script = `${root}/../holder.ts`;
    const marker = `${root}/../locked`;
    const log = `${root}/../log`;
    Deno.writeTextFileSync(
      script,
      `import { ContainerStore } from ${
        JSON.stringify(new URL("./record.ts", import.meta.url).href)
      };
const [root, marker, log, waiter] = Deno.args;
// lock waiters are listed in /proc/locks as "N: -> FLOCK ADVISORY WRITE <pid> <dev>:<ino> ..."
const blocked = (ino: number | null) =>
  Deno.readTextFileSync("/proc/locks").split("\\n").some((l) => {
    const f = l.trim().split(/\\s+/);
    return f[1] === "->" && f[5] === waiter && f[6]?.endsWith(":" + ino);
  });
new ContainerStore(root).withLock("web", () => {
  Deno.writeTextFileSync(marker, "");
  const ino = Deno.statSync(root + "/web/lock").ino;
  let seen = false;
  for (let i = 0; i < 6000 && !(seen = blocked(ino)); i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  const what = seen ? "child saw the parent blocked, released" : "child never saw the parent blocked";
  Deno.writeTextFileSync(log, what + "\\n", { append: true });
});
`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", script, root, marker, log, String(Deno.pid)],
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    try {
      const deadline = Date.now() + 20_000;
      for (;;) {
        try {
          Deno.statSync(marker);
          break;
        } catch {
          assert(Date.now() < deadline, "the child never took the lock");
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      // The child holds the lock until it sees this process waiting for it in /proc/locks, so
      // withLock() is shown to block by what the child saw, not by how long it took.
      store.withLock("web", () => Deno.writeTextFileSync(log, "parent locked\n", { append: true }));
      assertEquals(
        Deno.readTextFileSync(log),
        "child saw the parent blocked, released\nparent locked\n",
      );
    } finally {
      assert((await child.status).success);
    }
  }));

Deno.test("ContainerStore.list() returns the records sorted and skips incomplete directories", () =>
  withStore((store, root) => {
    assertEquals(store.list(), []); // no root yet
    store.create("b", record("b"));
    store.create("a", record("a"));
    Deno.mkdirSync(`${root}/half-created`);
    Deno.mkdirSync(`${root}/not an id`);
    Deno.writeTextFileSync(`${root}/c`, "a file");
    assertEquals(store.list().map((r) => r.id), ["a", "b"]);
    assertEquals(store.ids(), ["a", "b", "half-created"]);
  }));

Deno.test("ContainerStore.remove() deletes the directory and ignores an unknown id", () =>
  withStore((store, root) => {
    store.create("web", record("web"));
    store.remove("web");
    assertThrows(() => Deno.statSync(`${root}/web`), Deno.errors.NotFound);
    assertEquals(store.exists("web"), false);
    store.remove("web");
    store.remove("never");
  }));

/** Whether this process holds an flock on the file `path` names now (from /proc/locks). */
function holdsLock(path: string): boolean {
  const ino = Deno.statSync(path).ino;
  return Deno.readTextFileSync("/proc/locks").split("\n").some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === "FLOCK" && f[4] === String(Deno.pid) && f[5]?.endsWith(`:${ino}`);
  });
}

Deno.test("ContainerStore: a lock waiter of an id deleted and created again locks the new one", () =>
  withStore(async (store, root) => {
    store.create("web", record("web"));
    let waiter: Promise<unknown> | undefined;
    await store.withLockAsync("web", () => {
      waiter = store.withLockAsync(
        "web",
        () => Promise.resolve([store.load("web").bundle, holdsLock(`${root}/web/lock`)]),
      );
      store.remove("web");
      store.create("web", record("web", { bundle: "/new" }));
      return Promise.resolve();
    });
    assertEquals(await waiter, ["/new", true]);
  }));

Deno.test("ContainerStore: a directory without its lock file is not a container to lock", () =>
  withStore((store, root) => {
    store.create("web", record("web"));
    Deno.removeSync(`${root}/web/lock`);
    assertThrows(() => store.withLock("web", () => 1), ContainerNotFoundError);
    assertThrows(() => Deno.statSync(`${root}/web/lock`), Deno.errors.NotFound);
  }));

Deno.test("ContainerStore: an id as long as a file name is created and removed", () =>
  withStore((store, root) => {
    const id = "c".repeat(255);
    store.create(id, record(id));
    assertEquals(store.ids(), [id]);
    store.remove(id);
    assertEquals([...Deno.readDirSync(root)], []);
  }));

Deno.test("ContainerStore.removePartial() sweeps what killed creates of the id left", () =>
  withStore((store, root) => {
    store.create("db", record("db")); // makes the root
    const dead = 2 ** 22 + 1; // above the largest pid_max: no such process
    for (const id of ["web", "c".repeat(255), "db"]) {
      Deno.mkdirSync(`${root}/${partialDirName(id, dead)}`);
      Deno.writeTextFileSync(`${root}/${partialDirName(id, dead)}/state.json`, "{}");
    }
    Deno.mkdirSync(`${root}/${partialDirName("web", Deno.ppid)}`); // a create still running
    store.removePartial("web");
    store.removePartial("c".repeat(255));
    assertEquals(
      [...Deno.readDirSync(root)].map((e) => e.name).sort(),
      [
        partialDirName("db", dead),
        partialDirName("web", Deno.ppid),
        "db",
      ].sort(),
    );
  }));

Deno.test("parseProcStat() reads the fields after the last ')' of comm", () => {
  const tail = "S 1 100 100 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 987654 1000 100";
  const st = parseProcStat(`4242 (evil) S 1 (x)) ${tail}\n`);
  assertEquals(st, {
    pid: 4242,
    comm: "evil) S 1 (x)",
    state: "S",
    ppid: 1,
    startTime: "987654",
  });
  assertEquals(parseProcStat(`7 (a b) Z 3 ${tail.slice(4)}`)?.state, "Z");
  assertEquals(parseProcStat("garbage"), undefined);
  assertEquals(parseProcStat("1 (x) S 1"), undefined);
});

Deno.test("procStartTime() reads field 22 of /proc/<pid>/stat", () => {
  const self = Deno.readTextFileSync("/proc/self/stat");
  const field22 = self.slice(self.lastIndexOf(")") + 2).split(" ")[19];
  assertEquals(procStartTime(Deno.pid), field22);
  assertEquals(readProcStat(Deno.pid)?.pid, Deno.pid);
  assertEquals(procStartTime(0), undefined);
  assertEquals(procStartTime(2 ** 31 - 1), undefined);
});

Deno.test("isAlive() checks the pid, its start time and that it is not a zombie", async (t) => {
  await t.step("a live process with its start time", () => {
    assertEquals(isAlive({ pid: Deno.pid, initStartTime: procStartTime(Deno.pid)! }), true);
  });
  await t.step("a reused pid (different start time)", () => {
    assertEquals(isAlive({ pid: Deno.pid, initStartTime: "1" }), false);
  });
  await t.step("no pid or no start time", () => {
    assertEquals(isAlive({ pid: 0, initStartTime: "1" }), false);
    assertEquals(isAlive({ pid: Deno.pid, initStartTime: "" }), false);
  });
  await t.step("a zombie", async () => {
    // The background subshell ends only once sh has exec'd `sleep 30` (its parent's comm says
    // so), and `sleep 30` never reaps it; had it ended earlier, sh could have reaped it itself.
    const child = 'i=0; while [ "$(cat /proc/$p/comm)" != sleep ] && [ $i -lt 3000 ]; do ' +
      "i=$((i+1)); sleep 0.01; done";
    const sh = new Deno.Command("/bin/sh", {
      args: ["-c", `p=$$; (${child}) & echo $!; exec sleep 30`],
      stdout: "piped",
    }).spawn();
    try {
      const reader = sh.stdout.getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const pid = Number(text.trim());
      let st = readProcStat(pid);
      for (let i = 0; i < 6000 && st?.state !== "Z"; i++) {
        sleepSync(10);
        st = readProcStat(pid);
      }
      assertEquals(st?.state, "Z");
      assertEquals(isAlive({ pid, initStartTime: st!.startTime }), false);
    } finally {
      sh.kill("SIGKILL");
      await sh.status;
      await sh.stdout.cancel();
    }
  });
  await t.step("a process that exited", async () => {
    const out = await new Deno.Command("/bin/sh", { args: ["-c", "echo $$"] }).output();
    const pid = Number(new TextDecoder().decode(out.stdout).trim());
    assertEquals(isAlive({ pid, initStartTime: "12345" }), false);
  });
});
