/**
 * Behaviours runc users rely on, each tried as a runc user would (issue 11): seccomp profiles
 * that do not know close_range, rootfs propagation, a read-only /dev, bind sources out of the
 * user namespace's reach, hooks, seccomp notify for exec'd processes, terminal ownership, and
 * the isolation checks (symlinked /proc, --no-pivot, recursive read-only, capability names).
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  leftovers,
  makeBundle,
  newRoot,
  PYTHON,
  runSh,
  runts,
} from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const uniq = (name: string) => `${name}-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;

/** Runs `sh -c script` in a container (spec changed by mutate; prepare sees the bundle dir). */
const sh = (
  id: string,
  script: string,
  mutate?: (s: BundleSpec) => void,
  runFlags: string[] = [],
  prepare?: (dir: string) => Promise<void>,
): Promise<Run> => runSh(root, uniq(id), script, { mutate, runFlags, prepare });

for (const errno of [1, 38]) {
  Deno.test({
    name: `runts run: a seccomp profile refusing close_range (errno ${errno}) without ` +
      "noNewPrivileges starts, and no runtime fd reaches the process",
    ...opts,
    async fn() {
      const r = await sh("cr", "ls /proc/self/fd | sort -n | tr '\\n' ' '", (s) => {
        s.process.noNewPrivileges = false;
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: ["SCMP_ARCH_X86_64"],
          syscalls: [{ names: ["close_range"], action: "SCMP_ACT_ERRNO", errnoRet: errno }],
        };
      });
      assertEquals(r.stderr, "");
      // ls's own directory fd is 3
      assertEquals(r.stdout, "0 1 2 3 ");
      assertEquals(r.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    },
  });
}

Deno.test({
  name: 'runts run: rootfsPropagation "shared" starts, and the container\'s "/" is shared',
  ...opts,
  async fn() {
    const r = await sh(
      "shared",
      "awk '$5 == \"/\" { print $7 }' /proc/self/mountinfo | cut -d: -f1",
      (s) => s.linux.rootfsPropagation = "shared",
    );
    assertEquals(r.stderr, "");
    assertEquals(r.stdout, "shared\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run --no-pivot: CAP_SYS_ADMIN in a nested user namespace cannot mount a fresh proc",
  ...opts,
  async fn() {
    // In a user namespace of its own the container's mounts are locked, so the kernel allows a
    // new proc only while a whole one is visible in the mount namespace: the host's /proc,
    // left under the chroot of --no-pivot unless runts hides it.
    const r = await sh(
      "nopivot",
      "unshare -mrpf sh -c 'mount -t proc none /proc 2>&1; echo status=$?'",
      (s) => {
        for (const set of ["bounding", "effective", "permitted"] as const) {
          // CAP_SETFCAP: mapping uid 0 of the parent namespace needs it
          s.process.capabilities![set]!.push(
            "CAP_SYS_ADMIN",
            "CAP_SETUID",
            "CAP_SETGID",
            "CAP_SETFCAP",
          );
        }
      },
      ["--no-pivot"],
    );
    assertEquals(r.stderr, "");
    assertEquals(r.stdout, "mount: permission denied (are you root?)\nstatus=1\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a read-only /dev gets its devices and /dev/pts, then is read-only",
  ...opts,
  async fn() {
    const r = await sh(
      "rodev",
      "touch /dev/x 2>&1; ls /dev/null /dev/pts/ptmx; " +
        "awk '$5 == \"/dev\" { print $6 }' /proc/self/mountinfo | cut -d, -f1",
      (s) => s.mounts.find((m) => m.destination === "/dev")!.options!.push("ro"),
    );
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      "touch: /dev/x: Read-only file system\n/dev/null\n/dev/pts/ptmx\nro\n",
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: rro makes a bind mount and every submount read-only",
  ...opts,
  async fn(t) {
    const src = await Deno.makeTempDir({ prefix: "runts-rro-" });
    await Deno.mkdir(`${src}/sub`);
    const m = await new Deno.Command("mount", { args: ["-t", "tmpfs", "tmpfs", `${src}/sub`] })
      .output();
    assert(m.success, new TextDecoder().decode(m.stderr));
    try {
      const cases: [string[], string][] = [
        [["rbind", "rro"], "ro ro"],
        [["rbind", "ro", "rro"], "ro ro"],
        [["rbind", "ro"], "ro rw"],
      ];
      for (const [options, want] of cases) {
        await t.step(options.join(","), async () => {
          const r = await sh(
            "rro",
            "awk '$5 ~ /^\\/mnt/ { print $6 }' /proc/self/mountinfo | cut -d, -f1 | tr '\\n' ' '",
            (s) => s.mounts.push({ destination: "/mnt", type: "bind", source: src, options }),
          );
          assertEquals([r.stderr, r.stdout.trim(), r.code], ["", want, 0]);
        });
      }
      await t.step("rro on a tmpfs", async () => {
        const r = await sh(
          "rro-tmpfs",
          "touch /mnt/x 2>&1",
          (s) =>
            s.mounts.push({
              destination: "/mnt",
              type: "tmpfs",
              source: "tmpfs",
              options: ["rro"],
            }),
        );
        assertEquals([r.stderr, r.stdout, r.code], [
          "",
          "touch: /mnt/x: Read-only file system\n",
          1,
        ]);
      });
    } finally {
      await new Deno.Command("umount", { args: [`${src}/sub`] }).output();
      await Deno.remove(src, { recursive: true });
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

for (const dir of ["proc", "sys"]) {
  Deno.test({
    name: `runts run: a rootfs whose /${dir} is a symlink is refused, not followed`,
    ...opts,
    async fn() {
      const r = await sh("symlink-" + dir, "true", () => {}, [], async (b) => {
        await Deno.remove(`${b}/rootfs/${dir}`, { recursive: true });
        await Deno.mkdir(`${b}/rootfs/elsewhere`);
        await Deno.symlink("/elsewhere", `${b}/rootfs/${dir}`);
      });
      const fs = dir === "proc" ? "proc" : "sysfs";
      assertEquals(r.stdout, "");
      assertStringIncludes(
        r.stderr,
        `filesystem "${fs}" must be mounted on an ordinary directory: "/${dir}" in the rootfs ` +
          "is a symlink or not a directory",
      );
      assertEquals(r.code, 1);
      assertEquals(await leftovers(root), NOTHING);
    },
  });
}

Deno.test({
  name: "runts run: an unknown capability name is refused, naming it",
  ...opts,
  async fn() {
    const r = await sh(
      "cap-test",
      "true",
      (s) => s.process.capabilities!.bounding!.push("CAP_TEST"),
    );
    assertEquals(r.stdout, "");
    assertStringIncludes(r.stderr, 'process.capabilities: unknown capability "CAP_TEST"');
    assertEquals(r.code, 1);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run and exec: the pty of a terminal process belongs to process.user's uid",
  ...opts,
  async fn() {
    const script = 'stat -c %u:%g "$(readlink /proc/self/fd/0)"';
    const user = (s: BundleSpec) => {
      s.process.terminal = true;
      s.process.user = { uid: 1000, gid: 1000 };
    };
    const r = await sh("tty-owner", script, user);
    // the group stays the devpts mount's gid=5 (tty), as with runc
    assertEquals([r.stderr, r.stdout, r.code], ["", "1000:5\r\n", 0]);

    const b = await makeBundle({ args: ["sleep", "60"] });
    const id = uniq("tty-owner-exec");
    try {
      const d = await runts(["run", "-d", "-b", b.dir, id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      const e = await runts(["exec", "-t", "-u", "1000:1000", id, "sh", "-c", script], { root });
      assertEquals([e.stderr, e.stdout, e.code], ["", "1000:5\r\n", 0]);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** A seccomp agent: for each of N connections, prints one JSON line and closes the fd. */
const AGENT = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4)
print("listening", flush=True)
for _ in range(int(sys.argv[2])):
    c, _ = s.accept()
    fds = array.array("i")
    msg, anc, _, _ = c.recvmsg(1 << 16, socket.CMSG_LEN(16 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    m = json.loads(msg)
    links = [os.readlink("/proc/self/fd/%d" % fd) for fd in fds]
    print(json.dumps({"links": links, "pid": m["pid"], "status": m["state"]["status"]}), flush=True)
    for fd in fds: os.close(fd)
    c.close()
`;

Deno.test({
  name: "runts exec: a process under SCMP_ACT_NOTIFY sends its own listener to listenerPath",
  ...opts,
  ignore: opts.ignore || PYTHON === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-agent-" });
    const sock = `${dir}/agent.sock`;
    const agent = new Deno.Command(PYTHON!, {
      args: ["-c", AGENT, sock, "3"],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = agent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const readLine = async () => {
      while (!text.includes("\n")) {
        const { done, value } = await lines.read();
        if (done) break;
        text += value;
      }
      const i = text.indexOf("\n");
      const line = text.slice(0, i);
      text = text.slice(i + 1);
      return line;
    };
    const b = await makeBundle({
      args: ["sleep", "60"],
      mutate(s) {
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          listenerPath: sock,
          syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }],
        };
      },
    });
    const id = uniq("notify-exec");
    try {
      assertEquals(await readLine(), "listening");
      const d = await runts(["run", "-d", "-b", b.dir, id], { root });
      assertEquals([d.code, d.stderr], [0, ""]);
      const init = JSON.parse(await readLine());
      assertEquals([init.links, init.status], [["anon_inode:seccomp notify"], "creating"]);
      const e = await runts(["exec", id, "sh", "-c", "echo $$; mkdir /tmp/n 2>&1"], { root });
      const execPid = Number(e.stdout.split("\n")[0]);
      // A last message of our own: read instead of the exec's when that never came.
      const c = await Deno.connect({ transport: "unix", path: sock });
      await c.write(new TextEncoder().encode('{"pid": 0, "state": {"status": "test-end"}}'));
      c.close();
      const exec = JSON.parse(await readLine());
      assertEquals(exec.links, ["anon_inode:seccomp notify"]);
      assertEquals(exec.status, "running");
      assert(exec.pid !== init.pid && Number.isInteger(exec.pid), JSON.stringify(exec));
      // the agent closed the listener without answering: ENOSYS; the pid is the namespace's
      assert(execPid > 1, e.stdout);
      assertEquals(
        e.stdout.split("\n")[1],
        "mkdir: can't create directory '/tmp/n': Function not implemented",
      );
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      try {
        agent.kill("SIGKILL");
      } catch {
        // exited
      }
      await lines.cancel().catch(() => {});
      await agent.status;
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a missing seccomp agent socket is an error naming listenerPath",
  ...opts,
  async fn() {
    const sock = `/tmp/runts-no-agent-${Deno.pid}.sock`;
    const r = await sh("notify-missing", "true", (s) => {
      s.linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        listenerPath: sock,
        syscalls: [{ names: ["mkdirat"], action: "SCMP_ACT_NOTIFY" }],
      };
    });
    assertEquals(r.stdout, "");
    assertStringIncludes(
      r.stderr,
      `connect linux.seccomp.listenerPath "${sock}": ENOENT (No such file or directory)`,
    );
    assert(!r.stderr.includes("console-socket"), r.stderr);
    assertEquals(r.code, 1);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a bind source only the host's root can reach works in a user namespace",
  ...opts,
  async fn() {
    const priv = await Deno.makeTempDir({ prefix: "runts-private-" });
    await Deno.chmod(priv, 0o700);
    // the source is readable by all, but under a directory only the host's root can enter
    await Deno.mkdir(`${priv}/src`);
    await Deno.chmod(`${priv}/src`, 0o755);
    await Deno.writeTextFile(`${priv}/src/file`, "host-secret\n");
    try {
      const r = await sh("userns-bind", "cat /mnt/file", (s) => {
        s.linux.namespaces.push({ type: "user" });
        s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.mounts.push({
          destination: "/mnt",
          type: "bind",
          source: `${priv}/src`,
          options: ["rbind"],
        });
      });
      assertEquals([r.stderr, r.stdout, r.code], ["", "host-secret\n", 0]);
    } finally {
      await Deno.remove(priv, { recursive: true });
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

for (const userns of [false, true]) {
  Deno.test({
    name: "runts run: a createContainer hook's bind mount into the rootfs is seen by the process" +
      (userns ? " (user namespace)" : ""),
    ...opts,
    async fn() {
      const src = await Deno.makeTempDir({ prefix: "runts-hooksrc-" });
      await Deno.chmod(src, 0o755);
      await Deno.writeTextFile(`${src}/file`, "from-the-hook\n");
      try {
        const r = await sh(
          "hook-bind",
          "cat /hooked/file",
          (s) => {
            s.hooks = {
              createContainer: [{
                path: "/bin/sh",
                args: ["sh", "-c", `mount --bind ${src} "$ROOTFS/hooked"`],
                env: ["PATH=/usr/bin:/bin"],
              }],
            };
            if (userns) {
              s.linux.namespaces.push({ type: "user" });
              s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
              s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
            }
          },
          [],
          async (dir) => {
            await Deno.mkdir(`${dir}/rootfs/hooked`);
            await Deno.chmod(dir, 0o755); // the rootfs reachable from the user namespace
            const cfg = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
            cfg.hooks.createContainer[0].env.push(`ROOTFS=${dir}/rootfs`);
            await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
          },
        );
        assertEquals([r.stderr, r.stdout, r.code], ["", "from-the-hook\n", 0]);
      } finally {
        await Deno.remove(src, { recursive: true });
      }
      assertEquals(await leftovers(root), NOTHING);
    },
  });
}

Deno.test({
  name: "runts run: startContainer hooks run under the container's seccomp filter",
  ...opts,
  async fn() {
    // The hook runs in the container (its /bin/sh, its /tmp); the filter refuses mkdir there.
    const r = await sh(
      "hook-seccomp",
      "cat /tmp/hook-status /tmp/hook-err",
      (s) => {
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
        };
        s.hooks = {
          startContainer: [{
            path: "/bin/sh",
            args: ["sh", "-c", "mkdir /tmp/hook-dir 2>/tmp/hook-err; echo $? > /tmp/hook-status"],
          }],
        };
      },
      [],
      async (dir) => await Deno.mkdir(`${dir}/rootfs/tmp`, { recursive: true }),
    );
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      "1\nmkdir: can't create directory '/tmp/hook-dir': Operation not permitted\n",
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});
