import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import type { Step } from "../../ffi/program.ts";
import type { Spec } from "../oci/spec.ts";
import { NS_FLAG } from "./consts.ts";
import { buildInitProgram, executableCandidates, makedev } from "./init_program.ts";
import { parseMountOptions } from "./mount_options.ts";

function spec(over: Partial<Spec> = {}): Spec {
  return {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    process: { args: ["sh", "-c", "true"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }] },
    ...over,
  } as Spec;
}

function build(s: Spec, extra = {}) {
  return buildInitProgram({
    spec: s,
    rootfs: "/b/rootfs",
    stdio: [10, 11, 12],
    ctlFd: 20,
    ...extra,
  });
}

const names = (steps: Step[]) => steps.map((s) => s.name);
const idx = (steps: Step[], pred: (s: Step) => boolean) => steps.findIndex(pred);

Deno.test("buildInitProgram() makes new namespaces clone flags, but time and cgroup in the child", () => {
  const plan = build(spec({
    linux: {
      namespaces: [{ type: "pid" }, { type: "mount" }, { type: "time" }, { type: "cgroup" }, {
        type: "network",
      }],
    },
  }));
  assertEquals(plan.cloneFlags, NS_FLAG.pid | NS_FLAG.mount | NS_FLAG.network);
  const steps = plan.program.steps;
  assert(steps.some((s) => s.name === "unshare" && s.opts.subject === "CLONE_NEWTIME"));
  assert(steps.some((s) => s.name === "unshare" && s.opts.subject === "CLONE_NEWCGROUP"));
  assert(steps.some((s) => s.name === "ioctl" && s.opts.subject === 'SIOCSIFFLAGS "lo" up'));
});

Deno.test("buildInitProgram() joins a network namespace by path with setns", () => {
  const plan = build(
    spec({ linux: { namespaces: [{ type: "mount" }, { type: "network", path: "/run/netns/x" }] } }),
    { nsFds: { network: 33 } },
  );
  assertEquals(plan.cloneFlags, NS_FLAG.mount);
  const setns = plan.program.steps.find((s) => s.name === "setns")!;
  assertEquals(setns.args, [{ imm: 33n }, { imm: BigInt(NS_FLAG.network) }]);
  assertEquals(setns.opts.subject, 'network namespace "/run/netns/x"');
  assert(!plan.program.steps.some((s) => s.name === "ioctl"), "no loopback setup when joined");
});

Deno.test("buildInitProgram() waits for id maps first when it makes a user namespace", () => {
  const plan = build(spec({
    linux: {
      namespaces: [{ type: "user" }, { type: "mount" }],
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    },
  }));
  assert(plan.newUser);
  assertEquals(plan.program.steps[0]!.name, "close_range", "the runtime's fds go first");
  const first = plan.program.steps[1]!;
  assertEquals(first.name, "read");
  assertEquals(first.args[0], { imm: 20n });
  assertEquals(first.opts.zeroFails, true);
});

Deno.test("buildInitProgram() waits for the cgroup after the mounts, before the device nodes", () => {
  const steps = build(spec(), { waitAtStart: true }).program.steps;
  const waits = steps.flatMap((s, i) =>
    s.name === "read" && s.opts.subject === "waiting for the cgroup" ? [i] : []
  );
  assertEquals(waits.length, 1);
  const proc = idx(steps, (s) => s.name === "move_mount" && s.opts.subject === 'onto "/proc"');
  const mknod = idx(steps, (s) => s.name === "mknodat");
  assert(
    proc < waits[0]! && waits[0]! < mknod,
    `mounts ${proc} < wait ${waits[0]} < mknod ${mknod}`,
  );
  // A cgroup namespace is unshared after the join: then the wait stays first.
  const ns = build(
    spec({ linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "cgroup" }] } }),
    { waitAtStart: true },
  ).program.steps;
  assertEquals(ns[1]!.name, "read");
  assert(idx(ns, (s) => s.name === "unshare") > 1);
});

Deno.test("buildInitProgram() mounts before pivot_root and sets the user after it", () => {
  const steps = build(spec()).program.steps;
  const mount = idx(steps, (s) => s.name === "move_mount" && s.opts.subject === 'onto "/proc"');
  const pivot = idx(steps, (s) => s.name === "pivot_root");
  const setuid = idx(steps, (s) => s.name === "setresuid");
  const ready = idx(steps, (s) => s.name === "write" && s.opts.subject === "ready report");
  const wait = idx(steps, (s) => s.name === "read" && s.opts.subject === "waiting for start");
  const exec = idx(steps, (s) => s.name === "execve");
  assert(mount > 0 && mount < pivot && pivot < setuid && setuid < ready);
  assert(ready < wait && wait < exec);
  assertEquals(names(steps).at(-1), "execve");
});

Deno.test("buildInitProgram() uses chroot with --no-pivot", () => {
  const steps = build(spec(), { noPivot: true }).program.steps;
  assert(!steps.some((s) => s.name === "pivot_root"));
  assert(steps.some((s) => s.name === "chroot"));
});

Deno.test("buildInitProgram() resolves mount targets inside the rootfs with openat2", () => {
  const steps = build(spec({ mounts: [{ destination: "/a/b", type: "tmpfs", source: "tmpfs" }] }))
    .program.steps;
  const opens = steps.filter((s) => s.name === "openat2" && /"\/a/.test(s.opts.subject ?? ""));
  assertEquals(opens.map((s) => s.args[1]), [{ str: "a" }, { str: "a/b" }]);
  const how = (opens[0]!.args[2] as { bytes: Uint8Array }).bytes;
  const resolve = new DataView(how.buffer).getBigUint64(16, true);
  assertEquals(resolve, 0x10n | 0x02n, "RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS");
  assert(steps.some((s) => s.name === "mkdirat" && s.opts.ok?.includes(17)));
});

Deno.test("buildInitProgram() creates a file target for a bind mount of a file", () => {
  const steps = build(
    spec({ mounts: [{ destination: "/etc/hosts", type: "bind", source: "/h", options: ["ro"] }] }),
    { bindSources: { "/h": "file" } },
  ).program.steps;
  assert(steps.some((s) => s.name === "mknodat" && s.opts.subject === '"/etc/hosts"'));
  const tree = steps.find((s) => s.name === "open_tree" && /"\/h"/.test(s.opts.subject ?? ""));
  assert(tree !== undefined);
  assert(
    steps.some((s) => s.name === "mount_setattr" && s.opts.subject === 'options of "/etc/hosts"'),
  );
});

Deno.test("buildInitProgram() checks the executable at create and tries PATH in order", () => {
  const steps = build(spec({ process: { args: ["ls"], cwd: "/", env: ["PATH=/usr/bin:/bin"] } }))
    .program.steps;
  const access = steps.filter((s) => s.name === "faccessat");
  assertEquals(access.map((s) => s.args[1]), [{ str: "/usr/bin/ls" }, { str: "/bin/ls" }]);
  assertEquals(access[1]!.opts.messages?.[2], 'exec: "ls": executable file not found in $PATH');
  const execs = steps.filter((s) => s.name === "execve");
  assertEquals(execs.length, 2);
});

Deno.test("executableCandidates() follows execvp: a slash means no PATH search", () => {
  assertEquals(executableCandidates("/bin/x", ["PATH=/a"]), ["/bin/x"]);
  assertEquals(executableCandidates("x", ["PATH=/a::/b"]), ["/a/x", "/b/x"]);
  assertEquals(executableCandidates("x", []).length, 6);
});

Deno.test("buildInitProgram() drops bounding capabilities not listed and sets the rest", () => {
  const steps = build(spec({
    process: {
      args: ["/bin/sh"],
      cwd: "/",
      user: { uid: 1000, gid: 1000, additionalGids: [5] },
      capabilities: { bounding: ["CAP_KILL"], effective: ["CAP_KILL"], permitted: ["CAP_KILL"] },
    },
  })).program.steps;
  const drops = steps.filter((s) =>
    s.name === "prctl" && /CAPBSET_DROP/.test(s.opts.subject ?? "")
  );
  assertEquals(drops.length, 40);
  assert(!drops.some((s) => s.opts.subject === "PR_CAPBSET_DROP CAP_KILL"));
  const order = ["setgroups", "setresgid", "setresuid", "capset"].map((n) =>
    idx(steps, (s) => s.name === n)
  );
  assertEquals([...order].sort((a, b) => a - b), order);
});

Deno.test("buildInitProgram() rejects an unknown rlimit", () => {
  assertThrows(
    () =>
      build(spec({
        process: {
          args: ["sh"],
          cwd: "/",
          rlimits: [{ type: "RLIMIT_BOGUS" as "RLIMIT_CPU", soft: 1, hard: 1 }],
        },
      })),
    Error,
    'unknown type "RLIMIT_BOGUS"',
  );
});

Deno.test("parseMountOptions() splits flags, propagation and filesystem data", () => {
  const o = parseMountOptions(["rbind", "ro", "nosuid", "rslave", "mode=755", "newinstance"]);
  assertEquals(o.bind && o.recursive, true);
  assertEquals(o.attrSet, 0x1 | 0x2);
  assertEquals(o.propagation, 1 << 19);
  assertEquals(o.propagationRecursive, true);
  assertEquals(o.data, [["mode", "755"], ["newinstance", undefined]]);
});

Deno.test("makedev() encodes major and minor like the kernel's new_encode_dev", () => {
  assertEquals(makedev(1, 3), 0x103n);
  assertEquals(makedev(136, 300), (300n & 0xffn) | (136n << 8n) | ((300n & 0xffffff00n) << 12n));
});

Deno.test("buildInitProgram() marks fds close-on-exec before the seccomp filter, with an fcntl fallback", () => {
  const filter = new Uint8Array(8);
  const s = spec();
  s.process!.noNewPrivileges = false;
  const steps = build(s, { seccomp: { filter, flags: 0 }, preserveFds: [70] }).program.steps;
  const cr = idx(steps, (s) => s.name === "close_range" && s.opts.ok !== undefined);
  const sc = idx(steps, (s) => s.name === "seccomp");
  assert(cr >= 0 && cr < sc, "close_range comes before the filter");
  assertEquals(steps[cr]!.args[0], { imm: 4n });
  const fallback = steps.slice(cr + 1, sc).filter((s) => s.name === "fcntl");
  assertEquals(fallback.map((s) => s.args[0]), [10n, 11n, 12n, 20n, 70n].map((imm) => ({ imm })));
});

Deno.test("parseMountOptions() reads recursive attributes (rro, rnosuid, rrw) apart", () => {
  const o = parseMountOptions(["rbind", "ro", "rro", "rnosuid", "relatime"]);
  assertEquals([o.recursive, o.attrSet !== 0, o.recAttrSet, o.recAttrClr], [
    true,
    true,
    0x1 | 0x2,
    0,
  ]);
  assertEquals(parseMountOptions(["rro", "rrw"]).recAttrSet, 0);
});
