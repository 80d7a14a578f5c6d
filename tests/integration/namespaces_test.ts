/**
 * Namespaces as a container sees them (busybox output inside) and as the host sees them: new
 * pid, uts, ipc, network, user, cgroup, time and mount namespaces, and joining a network
 * namespace or another container's pid namespace by path.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  leftovers,
  makeBundle,
  newRoot,
  runSh,
  runts,
  type RuntsResult,
} from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

/** Runs a container with `sh -c script` (spec changed by mutate) and returns its result. */
const sh = (id: string, script: string, mutate?: (s: BundleSpec) => void): Promise<RuntsResult> =>
  runSh(root, id, script, { mutate });

/** Runs a command on the host and returns its stdout (throws on failure). */
async function host(cmd: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const dec = new TextDecoder();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr)}`);
  return dec.decode(o.stdout);
}

/** The namespace link of this (host) process, e.g. "ipc:[4026531839]". */
function hostNs(type: string): string {
  return Deno.readLinkSync(`/proc/self/ns/${type}`);
}

function stateOf(out: string): { status: string; pid: number } {
  return JSON.parse(out);
}

/** Fields of one line of /proc/<pid>/status, e.g. statusField(pid, "Uid") = ["0","0","0","0"]. */
async function statusField(pid: number | string, name: string): Promise<string[]> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const line = status.split("\n").find((l) => l.startsWith(`${name}:`));
  assert(line !== undefined, `no ${name} in /proc/${pid}/status`);
  return line.slice(name.length + 1).trim().split(/\s+/);
}

Deno.test({
  name: "runts run: a new pid namespace makes the shell pid 1 (echo $$, NSpid)",
  ...opts,
  async fn() {
    const r = await sh(
      "ns-pid",
      "echo $$; grep NSpid /proc/self/status; grep NSpid /proc/1/status",
    );
    assertEquals(r.stderr, "");
    // grep is the shell's child: pid 2 in the namespace (the /proc inside is the namespace's).
    assertEquals(r.stdout, "1\nNSpid:\t2\nNSpid:\t1\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a new uts namespace has the spec's hostname and domainname",
  ...opts,
  async fn() {
    const hostName = Deno.hostname();
    const r = await sh(
      "ns-uts",
      "hostname; cat /proc/sys/kernel/hostname; cat /proc/sys/kernel/domainname; readlink /proc/self/ns/uts",
      (s) => {
        s.hostname = "box-uts";
        s.domainname = "example.test";
      },
    );
    assertEquals(r.stderr, "");
    const lines = r.stdout.trim().split("\n");
    assertEquals(lines.slice(0, 3), ["box-uts", "box-uts", "example.test"]);
    assertMatch(lines[3]!, /^uts:\[\d+\]$/);
    assert(lines[3] !== hostNs("uts"), "the container's uts namespace is the host's");
    assertEquals(Deno.hostname(), hostName, "the host's hostname changed");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a new ipc namespace differs from the host's",
  ...opts,
  async fn() {
    const r = await sh("ns-ipc", "readlink /proc/self/ns/ipc");
    assertEquals(r.stderr, "");
    const inside = r.stdout.trim();
    assertMatch(inside, /^ipc:\[\d+\]$/);
    assert(inside !== hostNs("ipc"), `${inside} is the host's ipc namespace`);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a new network namespace has only lo, and it is up",
  ...opts,
  async fn() {
    const r = await sh(
      "ns-net",
      [
        "readlink /proc/self/ns/net",
        "ls /sys/class/net",
        "cat /sys/class/net/lo/operstate",
        "ip -o link | cut -d' ' -f2,3",
        "ifconfig lo | grep -o 'UP LOOPBACK RUNNING'",
        "ping -c1 -W2 127.0.0.1 | grep -o '1 packets received'",
        // TCP over lo, with no race: the listener's stdin is a fifo held open until it has
        // received (with /dev/null, a background job's stdin, busybox nc half-closes at once
        // and the client may see EOF and quit before sending its line), and the client
        // connects once the listener is there (LISTEN, state 0A, port 4321 = 0x10E1, v4 or v6
        // socket), however long it takes to start: no fixed sleep.
        "mkfifo /tmp/hold",
        "nc -l -p 4321 < /tmp/hold > /tmp/got & exec 3> /tmp/hold",
        "until cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -q ':10E1 0*:0000 0A'",
        "do usleep 10000; done",
        "echo hello-lo | nc 127.0.0.1 4321; wait; exec 3>&-; cat /tmp/got",
      ].join("; "),
      (s) => {
        // busybox ping opens a raw socket
        for (const set of ["bounding", "effective", "permitted"] as const) {
          s.process.capabilities![set]!.push("CAP_NET_RAW");
        }
        s.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
      },
    );
    assertEquals(r.stderr, "");
    const lines = r.stdout.trim().split("\n");
    assertMatch(lines[0]!, /^net:\[\d+\]$/);
    assert(lines[0] !== hostNs("net"), "the container's network namespace is the host's");
    assertEquals(lines.slice(1), [
      "lo",
      "unknown",
      "lo: <LOOPBACK,UP,LOWER_UP>",
      "UP LOOPBACK RUNNING",
      "1 packets received",
      "hello-lo",
    ]);
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a network namespace given by path is joined (same inode as the host sees)",
  ...opts,
  async fn() {
    const name = `runts-test-${Deno.pid}`;
    const path = `/var/run/netns/${name}`;
    await host("ip", "netns", "add", name);
    try {
      // A marker only this namespace has: an address on its lo.
      await host("ip", "netns", "exec", name, "ip", "addr", "add", "10.9.8.7/32", "dev", "lo");
      const ino = (await Deno.stat(path)).ino;
      assertEquals(String(ino), (await host("stat", "-L", "-c", "%i", path)).trim());
      const script =
        "readlink /proc/self/ns/net; ls /sys/class/net; ip -o -4 addr | grep -o 10.9.8.7";
      const r = await sh("ns-netpath", script, (s) => {
        s.linux.namespaces = s.linux.namespaces.map((n) =>
          n.type === "network" ? { type: "network", path } : n
        );
      });
      assertEquals(r.stderr, "");
      assertEquals(r.stdout, `net:[${ino}]\nlo\n10.9.8.7\n`);
      assertEquals(r.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await host("ip", "netns", "del", name);
    }
  },
});

Deno.test({
  name: "runts run: a new user namespace maps uid 0 to the host's 100000",
  ...opts,
  async fn() {
    const userns = (s: BundleSpec) => {
      s.linux.namespaces.push({ type: "user" });
      s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
    };
    const r = await sh(
      "ns-user",
      "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /tmp/f; stat -c '%u %g' /tmp/f; stat -c '%u' /bin; readlink /proc/self/ns/user",
      userns,
    );
    assertEquals(r.stderr, "");
    const lines = r.stdout.trimEnd().split("\n");
    assertEquals(
      lines.slice(0, 7),
      [
        "         0     100000      65536",
        "         0     100000      65536",
        "0",
        "0",
        "0 0",
        // the shared rootfs belongs to the host's root, which is not mapped: the overflow uid
        "65534",
      ].concat(lines[6]!),
    );
    assertMatch(lines[6]!, /^user:\[\d+\]$/);
    assert(lines[6] !== hostNs("user"), "the container's user namespace is the host's");
    assertEquals(r.code, 0);

    // From the host, the created container's init runs as 100000.
    const b = await makeBundle({ args: ["sleep", "60"], mutate: userns });
    const id = "ns-user-created";
    try {
      const c = await runts(["create", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const pid = stateOf((await runts(["state", id], { root })).stdout).pid;
      assertEquals(await statusField(pid, "Uid"), ["100000", "100000", "100000", "100000"]);
      assertEquals(await statusField(pid, "Gid"), ["100000", "100000", "100000", "100000"]);
      const map = await Deno.readTextFile(`/proc/${pid}/uid_map`);
      assertEquals(map.trim().split(/\s+/), ["0", "100000", "65536"]);
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run: a new cgroup namespace shows / as every cgroup path",
  ...opts,
  async fn() {
    const hostCgroups = await Deno.readTextFile("/proc/self/cgroup");
    const r = await sh("ns-cgroup", "cat /proc/self/cgroup; readlink /proc/self/ns/cgroup", (s) => {
      s.linux.namespaces.push({ type: "cgroup" });
    });
    assertEquals(r.stderr, "");
    const lines = r.stdout.trim().split("\n");
    const link = lines.pop()!;
    assertMatch(link, /^cgroup:\[\d+\]$/);
    assert(link !== hostNs("cgroup"), "the container's cgroup namespace is the host's");
    // one line per hierarchy, as on the host, each rooted at the namespace's "/"
    const hierarchies = hostCgroups.trim().split("\n").map((l) => l.replace(/:[^:]*$/, ":/"));
    assertEquals(lines, hierarchies);
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: a new time namespace shifts boottime and monotonic by timeOffsets",
  ...opts,
  async fn() {
    const r = await sh(
      "ns-time",
      "cut -d' ' -f1 /proc/uptime; readlink /proc/self/ns/time; cat /proc/self/timens_offsets",
      (s) => {
        s.linux.namespaces.push({ type: "time" });
        s.linux.timeOffsets = { boottime: { secs: 86400 }, monotonic: { secs: 86400 } };
      },
    );
    const hostUptime = Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]);
    assertEquals(r.stderr, "");
    const lines = r.stdout.trim().split("\n");
    const inside = Number(lines[0]);
    assert(
      inside >= hostUptime + 86000 && inside <= hostUptime + 86400 + 5,
      `uptime inside ${inside}, host ${hostUptime}`,
    );
    assertMatch(lines[1]!, /^time:\[\d+\]$/);
    assert(lines[1] !== hostNs("time"), "the container's time namespace is the host's");
    assertEquals(lines.slice(2).map((l) => l.trim().split(/\s+/)), [
      ["monotonic", "86400", "0"],
      ["boottime", "86400", "0"],
    ]);
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts create: a tmpfs mounted in the container is not visible on the host",
  ...opts,
  async fn() {
    const source = `runts-mnt-marker-${Deno.pid}`;
    const b = await makeBundle({
      args: ["sleep", "60"],
      mutate(s) {
        s.mounts.push({ destination: "/tmp", type: "tmpfs", source, options: ["size=1234k"] });
      },
    });
    const id = "ns-mnt";
    try {
      const c = await runts(["create", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const pid = stateOf((await runts(["state", id], { root })).stdout).pid;
      const inside = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
      const tmp = inside.split("\n").find((l) => l.split(" ")[4] === "/tmp");
      assert(tmp !== undefined, `no /tmp in the container's mountinfo:\n${inside}`);
      assertStringIncludes(tmp, ` - tmpfs ${source} `);
      assert(
        Deno.readLinkSync(`/proc/${pid}/ns/mnt`) !== hostNs("mnt"),
        "the container's mount namespace is the host's",
      );
      for (const f of ["/proc/self/mountinfo", "/proc/1/mountinfo"]) {
        const hostInfo = await Deno.readTextFile(f);
        assert(!hostInfo.includes(source), `${f} shows the container's tmpfs`);
      }
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run: a pid namespace given by path joins another running container's",
  ...opts,
  async fn() {
    const a = await makeBundle({ args: ["sleep", "60"] });
    const idA = "ns-pid-a";
    const idB = "ns-pid-b";
    try {
      const c = await runts(["create", "-b", a.dir, idA], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      assertEquals((await runts(["start", idA], { root })).code, 0);
      const s = stateOf((await runts(["state", idA], { root })).stdout);
      assertEquals(s.status, "running");
      const r = await sh(
        idB,
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o pid,args | grep -c '^ *1 sleep 60'; ls /proc | grep -c '^1$'; readlink /proc/self/ns/pid; echo $$",
        (spec) => {
          spec.linux.namespaces = spec.linux.namespaces.map((n) =>
            n.type === "pid" ? { type: "pid", path: `/proc/${s.pid}/ns/pid` } : n
          );
        },
      );
      assertEquals(r.stderr, "");
      const lines = r.stdout.trim().split("\n");
      assertEquals(lines.slice(0, 4), [
        "sleep 60 ",
        "1",
        "1",
        Deno.readLinkSync(`/proc/${s.pid}/ns/pid`),
      ]);
      assert(lines[4] !== "1", "B's shell is not the namespace's pid 1");
      assertEquals(r.code, 0);
      // A is still running after B is gone.
      assertEquals(stateOf((await runts(["state", idA], { root })).stdout).status, "running");
      assertEquals((await runts(["delete", "--force", idA], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", idA], { root });
      await runts(["delete", "--force", idB], { root });
      await a.cleanup();
    }
  },
});
