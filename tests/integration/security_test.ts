/**
 * The container's security settings, seen from inside it (/proc/self/status and the like):
 * capability sets, noNewPrivileges against file capabilities, oomScoreAdj, every rlimit,
 * sysctl, personality, seccomp (errno values, argument filters, kill, log, flags, a
 * Docker-format profile, a notify listener), masked and read-only paths of the image's own
 * files, linux.devices of every type, and linux.intelRdt (refused).
 *
 * process_test.ts already covers: the CAP_KILL|CAP_NET_BIND_SERVICE sets and one ambient
 * capability, NoNewPrivs both ways, RLIMIT_NOFILE/NPROC; rootfs_test.ts: /proc and /sys masked
 * and read-only paths, /dev/fuse and /dev/net/tun from linux.devices, root.readonly.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  DOCKER_CAPS,
  exists,
  leftovers,
  makeBundle,
  newRoot,
  PYTHON,
  runSh,
  runts,
} from "./_helpers.ts";
import type { LinuxSeccomp, LinuxSyscall, RlimitType } from "../../src/oci/spec.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sh -c script` in a container (spec changed by mutate; prepare sees the bundle dir). */
const sh = (
  id: string,
  script: string,
  mutate?: (s: BundleSpec) => void,
  prepare?: (dir: string) => Promise<void>,
): Promise<Run> => runSh(root, id, script, { mutate, prepare });

/** Runs a command on the host; returns its output and status without throwing. */
async function host(cmd: string, ...args: string[]): Promise<Run> {
  const o = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

const CAP_STATUS = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status";

/** The `Cap*:` lines of /proc/self/status for the given hex values. */
function capLines(v: { inh: string; prm: string; eff: string; bnd: string; amb: string }) {
  const hex = (x: string) => x.padStart(16, "0");
  return [
    `CapInh:\t${hex(v.inh)}`,
    `CapPrm:\t${hex(v.prm)}`,
    `CapEff:\t${hex(v.eff)}`,
    `CapBnd:\t${hex(v.bnd)}`,
    `CapAmb:\t${hex(v.amb)}`,
    "",
  ].join("\n");
}

Deno.test({
  name: "security: root with Docker's default capabilities has exactly 0xa80425fb",
  ...opts,
  async fn() {
    const r = await sh("sec-caps-docker", CAP_STATUS, (s) => {
      s.process.capabilities = {
        bounding: DOCKER_CAPS,
        effective: DOCKER_CAPS,
        permitted: DOCKER_CAPS,
      };
    });
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      capLines({ inh: "0", prm: "a80425fb", eff: "a80425fb", bnd: "a80425fb", amb: "0" }),
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: a non-root user keeps two ambient capabilities; one not inheritable is dropped",
  ...opts,
  async fn() {
    // CAP_CHOWN = 0x1, CAP_KILL = 0x20, CAP_NET_BIND_SERVICE = 0x400, CAP_NET_RAW = 0x2000.
    // After execve a non-root process without file capabilities has P = E = A.
    const r = await sh("sec-caps-ambient", CAP_STATUS, (s) => {
      s.process.user = { uid: 1000, gid: 1000 };
      s.process.noNewPrivileges = false;
      s.process.capabilities = {
        bounding: DOCKER_CAPS,
        effective: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        permitted: ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        inheritable: ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        ambient: ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
      };
    });
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      capLines({ inh: "2401", prm: "2400", eff: "2400", bnd: "a80425fb", amb: "2400" }),
    );

    // An ambient capability that is not inheritable cannot be raised: ignored, as runc does.
    const d = await sh("sec-caps-ambient-drop", CAP_STATUS, (s) => {
      s.process.user = { uid: 1000, gid: 1000 };
      s.process.noNewPrivileges = false;
      s.process.capabilities = {
        bounding: DOCKER_CAPS,
        effective: ["CAP_KILL"],
        permitted: ["CAP_KILL"],
        ambient: ["CAP_KILL"],
      };
    });
    assertEquals([d.stderr, d.code], ["", 0]);
    assertEquals(d.stdout, capLines({ inh: "0", prm: "0", eff: "0", bnd: "a80425fb", amb: "0" }));
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: noNewPrivileges stops a file capability from being gained at execve",
  ...opts,
  ignore: opts.ignore || !exists("/usr/sbin/setcap") && !exists("/sbin/setcap"),
  async fn() {
    // /opt/cat is busybox with cap_net_bind_service=ep (0x400); bounding allows it.
    const setcap = exists("/usr/sbin/setcap") ? "/usr/sbin/setcap" : "/sbin/setcap";
    const prepare = async (dir: string) => {
      await Deno.mkdir(`${dir}/rootfs/opt`);
      await Deno.copyFile(`${dir}/rootfs/bin/busybox`, `${dir}/rootfs/opt/cat`);
      const r = await host(setcap, "cap_net_bind_service+ep", `${dir}/rootfs/opt/cat`);
      assertEquals(r.code, 0, r.stderr);
    };
    const script = "/opt/cat /proc/self/status | grep -E '^(CapEff|NoNewPrivs)'";
    const caps = (nnp: boolean) => (s: BundleSpec) => {
      s.process.user = { uid: 1000, gid: 1000 };
      s.process.noNewPrivileges = nnp;
      s.process.capabilities = { bounding: DOCKER_CAPS, effective: [], permitted: [] };
    };
    const off = await sh("sec-nnp-off", script, caps(false), prepare);
    assertEquals([off.stdout, off.stderr], ["CapEff:\t0000000000000400\nNoNewPrivs:\t0\n", ""]);
    const on = await sh("sec-nnp-on", script, caps(true), prepare);
    assertEquals([on.stdout, on.stderr], ["CapEff:\t0000000000000000\nNoNewPrivs:\t1\n", ""]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: oomScoreAdj is the process's oom_score_adj, inherited by its children",
  ...opts,
  async fn() {
    const r = await sh(
      "sec-oom",
      "cat /proc/self/oom_score_adj; cat /proc/1/oom_score_adj",
      (s) => (s.process.oomScoreAdj = 789),
    );
    assertEquals([r.stdout, r.stderr, r.code], ["789\n789\n", "", 0]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** RLIMIT_* in /proc/self/limits order, with the value each is set to (before clamping). */
const RLIMITS: [RlimitType, number, number][] = [
  ["RLIMIT_CPU", 1000, 2000],
  ["RLIMIT_FSIZE", 10_000_000, 20_000_000],
  ["RLIMIT_DATA", 900_000_000, 1_000_000_000],
  ["RLIMIT_STACK", 4_000_000, 8_000_000],
  ["RLIMIT_CORE", 1000, 2000],
  ["RLIMIT_RSS", 500_000_000, 600_000_000],
  ["RLIMIT_NPROC", 300, 400],
  ["RLIMIT_NOFILE", 100, 200],
  ["RLIMIT_MEMLOCK", 65536, 131072],
  ["RLIMIT_AS", 3_000_000_000, 4_000_000_000],
  ["RLIMIT_LOCKS", 50, 60],
  ["RLIMIT_SIGPENDING", 70, 80],
  ["RLIMIT_MSGQUEUE", 8192, 16384],
  ["RLIMIT_NICE", 0, 0],
  ["RLIMIT_RTPRIO", 0, 0],
  ["RLIMIT_RTTIME", 5000, 6000],
];

/** [soft, hard] per line of a /proc/<pid>/limits text ("unlimited" as Infinity). */
function parseLimits(text: string): [number, number][] {
  return text.split("\n").slice(1).filter((l) => l.startsWith("Max ")).map((l) => {
    const m = l.match(/^Max .+?\s{2,}(\S+)\s+(\S+)/);
    assert(m !== null, l);
    const v = (x: string) => (x === "unlimited" ? Infinity : Number(x));
    return [v(m[1]!), v(m[2]!)];
  });
}

Deno.test({
  name: "security: every RLIMIT_* type is applied (/proc/self/limits, ulimit)",
  ...opts,
  async fn() {
    // Raising a hard limit needs CAP_SYS_RESOURCE, which this host may lack (runc fails too):
    // each value is clamped to this process's hard limit, which the container's init inherits.
    const own = parseLimits(await Deno.readTextFile("/proc/self/limits"));
    assertEquals(own.length, RLIMITS.length);
    const want = RLIMITS.map(([type, soft, hard], i) => {
      const h = Math.min(hard, own[i]![1]);
      return { type, soft: Math.min(soft, h), hard: h };
    });
    const r = await sh(
      "sec-rlimits",
      "cat /proc/self/limits; ulimit -t; ulimit -n; ulimit -Hn; ulimit -s",
      (s) => (s.process.rlimits = want),
    );
    assertEquals(r.stderr, "");
    assertEquals(r.code, 0);
    const lines = r.stdout.split("\n");
    const limitsText = lines.slice(0, RLIMITS.length + 1).join("\n");
    assertEquals(parseLimits(limitsText), want.map((w) => [w.soft, w.hard]));
    // ulimit -s is in KiB
    assertEquals(lines.slice(RLIMITS.length + 1), [
      String(want[0]!.soft),
      String(want[7]!.soft),
      String(want[7]!.hard),
      String(Math.floor(want[3]!.soft / 1024)),
      "",
    ]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

const SYSCTL_SCRIPT =
  "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax";
const SYSCTLS = {
  "net.ipv4.ip_forward": "1",
  "kernel.shmmax": "123456789",
  "kernel.msgmax": "9000",
};

async function hostSysctls(): Promise<string> {
  const paths = ["net/ipv4/ip_forward", "kernel/shmmax", "kernel/msgmax"];
  return (await Promise.all(paths.map((p) => Deno.readTextFile(`/proc/sys/${p}`)))).join("");
}

Deno.test({
  name: "security: sysctl sets namespaced keys in new net and ipc namespaces, not the host's",
  ...opts,
  async fn() {
    const before = await hostSysctls();
    // readonlyPaths without /proc/sys: see the next test for the default list.
    const r = await sh("sec-sysctl", SYSCTL_SCRIPT, (s) => {
      s.linux.sysctl = SYSCTLS;
      s.linux.readonlyPaths = [];
    });
    assertEquals([r.stdout, r.stderr, r.code], ["1\n123456789\n9000\n", "", 0]);
    assertEquals(await hostSysctls(), before);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: sysctl is applied before readonlyPaths make /proc/sys read-only (as runc)",
  ...opts,
  async fn() {
    const before = await hostSysctls();
    const r = await sh("sec-sysctl-ro", SYSCTL_SCRIPT, (s) => (s.linux.sysctl = SYSCTLS));
    assertEquals([r.stdout, r.stderr, r.code], ["1\n123456789\n9000\n", "", 0]);
    assertEquals(await hostSysctls(), before);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: sysctl keys of the host's namespaces, or not namespaced, are refused",
  ...opts,
  async fn() {
    const cur = async (p: string) => (await Deno.readTextFile(`/proc/sys/${p}`)).trim();
    const cases: [string, string, string, string | undefined][] = [
      ["sec-sysctl-panic", "kernel.panic", await cur("kernel/panic"), undefined],
      ["sec-sysctl-hostnet", "net.ipv4.ip_forward", await cur("net/ipv4/ip_forward"), "network"],
      ["sec-sysctl-hostipc", "kernel.shmmax", await cur("kernel/shmmax"), "ipc"],
    ];
    for (const [id, key, value, drop] of cases) {
      const r = await sh(id, "echo ran", (s) => {
        s.linux.sysctl = { [key]: value };
        s.linux.readonlyPaths = [];
        if (drop) s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== drop);
      });
      assertEquals([r.stdout, r.code], ["", 1], `${key}: ${r.stderr}`);
      assertStringIncludes(r.stderr, key);
    }
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: personality LINUX32 makes uname -m print i686, LINUX leaves x86_64",
  ...opts,
  ignore: opts.ignore || Deno.build.arch !== "x86_64",
  async fn() {
    const r = await sh("sec-pers32", "uname -m; cat /proc/self/personality", (s) => {
      s.linux.personality = { domain: "LINUX32" };
    });
    assertEquals([r.stdout, r.stderr, r.code], ["i686\n00000008\n", "", 0]);
    const n = await sh("sec-pers64", "uname -m; cat /proc/self/personality", (s) => {
      s.linux.personality = { domain: "LINUX" };
    });
    assertEquals([n.stdout, n.stderr, n.code], ["x86_64\n00000000\n", "", 0]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

// ---- seccomp ----

/** What busybox sh and the applets used below need (x86_64 names). */
const BUSYBOX_CALLS = [
  "access",
  "arch_prctl",
  "brk",
  "chdir",
  "clock_nanosleep",
  "clone",
  "clone3",
  "close",
  "dup",
  "dup2",
  "dup3",
  "execve",
  "exit",
  "exit_group",
  "fcntl",
  "fstat",
  "futex",
  "getcwd",
  "getdents64",
  "getegid",
  "geteuid",
  "getgid",
  "getgroups",
  "getpid",
  "getppid",
  "getrandom",
  "getuid",
  "ioctl",
  "lseek",
  "lstat",
  "mmap",
  "mprotect",
  "munmap",
  "newfstatat",
  "openat",
  "pipe",
  "pipe2",
  "prctl",
  "pread64",
  "prlimit64",
  "read",
  "readlink",
  "rseq",
  "rt_sigaction",
  "rt_sigprocmask",
  "rt_sigreturn",
  "set_robust_list",
  "set_tid_address",
  "sigaltstack",
  "stat",
  "statx",
  "uname",
  "wait4",
  "write",
  "writev",
];

Deno.test({
  name: "security: seccomp allow-list with defaultErrnoRet, errnoRet per rule, argument filters",
  ...opts,
  ignore: opts.ignore || Deno.build.arch !== "x86_64",
  async fn() {
    const r = await sh(
      "sec-seccomp",
      [
        "grep -E '^Seccomp(_filters)?:' /proc/self/status",
        "mkdir /dev/shm/a", // rule errnoRet 28
        "chmod 700 /dev/shm", // rule without errnoRet: EPERM
        "rmdir /dev/shm", // not listed: defaultErrnoRet 13
        "kill -0 $$ && echo kill-0-allowed", // kill only with signal 0
        "kill -USR1 $$",
        "linux32 uname -m", // personality(PER_LINUX32): only 0xffffffff (query) is allowed
        "echo done",
      ].join("; "),
      (s) => {
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ERRNO",
          defaultErrnoRet: 13,
          architectures: ["SCMP_ARCH_X86_64"],
          syscalls: [
            { names: BUSYBOX_CALLS, action: "SCMP_ACT_ALLOW" },
            { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 28 },
            { names: ["chmod", "fchmodat", "fchmodat2"], action: "SCMP_ACT_ERRNO" },
            {
              names: ["kill"],
              action: "SCMP_ACT_ALLOW",
              args: [{ index: 1, value: 0, op: "SCMP_CMP_EQ" }],
            },
            {
              names: ["personality"],
              action: "SCMP_ACT_ALLOW",
              args: [{ index: 0, value: 0xffffffff, op: "SCMP_CMP_EQ" }],
            },
            {
              names: ["personality"],
              action: "SCMP_ACT_ERRNO",
              errnoRet: 1,
              args: [{ index: 0, value: 0xffffffff, op: "SCMP_CMP_NE" }],
            },
          ],
        };
      },
    );
    assertEquals(r.stdout, "Seccomp:\t2\nSeccomp_filters:\t1\nkill-0-allowed\ndone\n");
    assertEquals(
      r.stderr,
      [
        "mkdir: can't create directory '/dev/shm/a': No space left on device",
        "chmod: /dev/shm: Operation not permitted",
        "rmdir: '/dev/shm': Permission denied",
        "sh: can't kill pid 1: Permission denied",
        "linux32: personality(0x8): Operation not permitted",
        "",
      ].join("\n"),
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: SCMP_ACT_KILL_PROCESS kills with SIGSYS (159); SCMP_ACT_LOG and flags allow",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["mkdir", "/dev/shm/killed"],
      mutate(s) {
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_KILL_PROCESS" }],
        };
      },
    });
    try {
      const k = await runts(["run", "-b", b.dir, "sec-seccomp-kill"], { root });
      assertEquals([k.stdout, k.stderr, k.code], ["", "", 128 + 31]);
    } finally {
      await b.cleanup();
    }

    const l = await sh(
      "sec-seccomp-log",
      "mkdir /dev/shm/logged && echo made; grep -E '^Seccomp(_filters)?:' /proc/self/status",
      (s) => {
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
          syscalls: [
            { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_LOG" },
            { names: ["reboot"], action: "SCMP_ACT_KILL_THREAD" },
          ],
        };
      },
    );
    assertEquals([l.stdout, l.stderr, l.code], ["made\nSeccomp:\t2\nSeccomp_filters:\t1\n", "", 0]);
    assertEquals(await leftovers(root), NOTHING);
  },
});

const PODMAN_PROFILE = "/usr/share/containers/seccomp.json";

interface DockerRule extends LinuxSyscall {
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

/** A Docker-format profile to `linux.seccomp` for amd64 and Docker's default capabilities. */
function fromDockerFormat(j: {
  defaultAction: LinuxSeccomp["defaultAction"];
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls: DockerRule[];
}): LinuxSeccomp {
  const caps = new Set(DOCKER_CAPS);
  const arch = j.archMap?.find((a) => a.architecture === "SCMP_ARCH_X86_64");
  const keep = (r: DockerRule) =>
    (r.includes?.arches === undefined || r.includes.arches.includes("amd64")) &&
    !(r.excludes?.arches ?? []).includes("amd64") &&
    (r.includes?.caps ?? []).every((c) => caps.has(c)) &&
    !(r.excludes?.caps ?? []).some((c) => caps.has(c));
  const out: LinuxSeccomp = {
    defaultAction: j.defaultAction,
    syscalls: j.syscalls.filter(keep).map((r) => {
      const s: LinuxSyscall = { names: r.names, action: r.action, args: r.args ?? [] };
      if (r.errnoRet !== undefined && r.errnoRet !== null) s.errnoRet = r.errnoRet;
      return s;
    }),
  };
  if (j.defaultErrnoRet !== undefined) out.defaultErrnoRet = j.defaultErrnoRet;
  if (arch !== undefined) out.architectures = [arch.architecture, ...(arch.subArchitectures ?? [])];
  return out;
}

Deno.test({
  name: `security: podman's Docker-format profile (${PODMAN_PROFILE}) runs busybox, denies mount`,
  ...opts,
  ignore: opts.ignore || Deno.build.arch !== "x86_64" || !exists(PODMAN_PROFILE),
  async fn() {
    const profile = fromDockerFormat(JSON.parse(await Deno.readTextFile(PODMAN_PROFILE)));
    const script = (extra: string) =>
      "ls / >/dev/null && ps >/dev/null && id && grep '^Seccomp:' /proc/self/status; " + extra;
    const withCaps = (caps: string[]) => (s: BundleSpec) => {
      s.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
    };
    // Docker's capabilities: the profile lets mount through (like Docker's, it leaves mount
    // to CAP_SYS_ADMIN), and the process without it gets EPERM.
    const r = await sh(
      "sec-seccomp-podman",
      script("mount -t tmpfs none /dev/shm; echo mount=$?"),
      (s) => {
        withCaps(DOCKER_CAPS)(s);
        s.linux.seccomp = profile;
      },
    );
    assertEquals(r.stdout, "uid=0(root) gid=0(root)\nSeccomp:\t2\nmount=1\n");
    // busybox reports mount's EPERM as "permission denied (are you root?)"
    assertEquals(r.stderr, "mount: permission denied (are you root?)\n");
    assertEquals(r.code, 0);

    // The filter's own refusals: with CAP_SYS_ADMIN the kernel answers swapon of /dev/null with
    // EINVAL, the profile with EPERM first.
    const admin = [...DOCKER_CAPS, "CAP_SYS_ADMIN"];
    const swapon = script("swapon /dev/null; echo swapon=$?");
    const f = await sh("sec-seccomp-podman-swapon", swapon, (s) => {
      withCaps(admin)(s);
      s.linux.seccomp = profile;
    });
    assertEquals(
      [f.stdout, f.stderr, f.code],
      [
        "uid=0(root) gid=0(root)\nSeccomp:\t2\nswapon=1\n",
        "swapon: /dev/null: Operation not permitted\n",
        0,
      ],
    );
    const c = await sh("sec-seccomp-podman-control", swapon, withCaps(admin));
    assertEquals(
      [c.stdout, c.stderr, c.code],
      [
        "uid=0(root) gid=0(root)\nSeccomp:\t0\nswapon=1\n",
        "swapon: /dev/null: Invalid argument\n",
        0,
      ],
    );
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** A seccomp agent: accepts one connection, prints the JSON and the fd it got, closes the fd. */
const AGENT = `
import array, json, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
fds = array.array("i")
msg, anc, _, _ = c.recvmsg(1 << 16, socket.CMSG_LEN(16 * fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
links = [os.readlink("/proc/self/fd/%d" % fd) for fd in fds]
print(json.dumps({"links": links, "message": json.loads(msg)}), flush=True)
for fd in fds: os.close(fd)
`;

Deno.test({
  name: "security: SCMP_ACT_NOTIFY sends the listener and state to listenerPath; closed -> ENOSYS",
  ...opts,
  ignore: opts.ignore || PYTHON === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-agent-" });
    const sock = `${dir}/agent.sock`;
    const agent = new Deno.Command(PYTHON!, {
      args: ["-c", AGENT, sock],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = agent.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const first = await out.read();
      // the line may come in pieces: its start says the socket is bound
      assert(first.value?.startsWith("l"), "the agent did not start");
      const b = await makeBundle({
        args: ["sh", "-c", "mkdir /dev/shm/notified; echo after-mkdir"],
        mutate(s) {
          s.linux.seccomp = {
            defaultAction: "SCMP_ACT_ALLOW",
            listenerPath: sock,
            listenerMetadata: "runts-test-metadata",
            syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_NOTIFY" }],
          };
        },
      });
      let r: Run;
      try {
        r = await runts(["run", "-b", b.dir, "sec-seccomp-notify"], { root });
      } finally {
        await b.cleanup();
      }
      // The agent closed the listener without answering: the kernel fails the call (ENOSYS).
      assertEquals(r.stdout, "after-mkdir\n");
      assertEquals(
        r.stderr,
        "mkdir: can't create directory '/dev/shm/notified': Function not implemented\n",
      );
      assertEquals(r.code, 0);
      let text = "";
      for (;;) {
        const { done, value } = await out.read();
        if (done) break;
        text += value;
      }
      const got = JSON.parse(text);
      assertEquals(got.links, ["anon_inode:seccomp notify"]);
      const m = got.message;
      assertEquals(m.fds, ["seccompFd"]);
      assertEquals(m.metadata, "runts-test-metadata");
      assertEquals(m.state.id, "sec-seccomp-notify");
      assertEquals(m.state.bundle, b.dir);
      assertEquals(m.state.pid, m.pid);
      assert(Number.isInteger(m.pid) && m.pid > 1, text);
      assertEquals(m.ociVersion, m.state.ociVersion);
      assertEquals((await agent.status).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      try {
        agent.kill("SIGKILL");
      } catch {
        // exited
      }
      await out.cancel().catch(() => {});
      await agent.stderr.cancel().catch(() => {});
      await agent.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- paths and devices ----

Deno.test({
  name: "security: maskedPaths and readonlyPaths of the image's own files and directories",
  ...opts,
  async fn() {
    const r = await sh(
      "sec-masked",
      [
        "stat -c '%n %F %t:%T' /etc/secret.conf",
        "wc -c < /etc/secret.conf",
        "ls -A /srv/secrets | wc -l",
        "touch /srv/secrets/new",
        "cat /data/kept",
        "echo change > /data/kept",
        "touch /data/new",
        "echo change > /etc/ro.conf",
        "cat /etc/ro.conf",
        "echo still-writable > /etc/other && cat /etc/other",
      ].join("; "),
      (s) => {
        s.linux.maskedPaths = ["/etc/secret.conf", "/srv/secrets", "/no/such/path"];
        s.linux.readonlyPaths = ["/data", "/etc/ro.conf", "/no/such/ro"];
      },
      async (dir) => {
        const rootfs = `${dir}/rootfs`;
        await Deno.writeTextFile(`${rootfs}/etc/secret.conf`, "password=hunter2\n");
        await Deno.mkdir(`${rootfs}/srv/secrets`, { recursive: true });
        await Deno.writeTextFile(`${rootfs}/srv/secrets/key`, "private\n");
        await Deno.mkdir(`${rootfs}/data`);
        await Deno.writeTextFile(`${rootfs}/data/kept`, "original\n");
        await Deno.writeTextFile(`${rootfs}/etc/ro.conf`, "ro-original\n");
      },
    );
    assertEquals(
      r.stdout,
      [
        "/etc/secret.conf character special file 1:3",
        "0",
        "0",
        "original",
        "ro-original",
        "still-writable",
        "",
      ].join("\n"),
    );
    assertEquals(
      r.stderr,
      [
        "touch: /srv/secrets/new: Read-only file system",
        "sh: can't create /data/kept: Read-only file system",
        "touch: /data/new: Read-only file system",
        "sh: can't create /etc/ro.conf: Read-only file system",
        "",
      ].join("\n"),
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: linux.devices of every type with uid, gid and fileMode; unlisted ones absent",
  ...opts,
  async fn() {
    const r = await sh(
      "sec-devices",
      [
        "for d in loop7 fifo0 kmsg-copy; do stat -c '%n %F %t %T %a %u %g' /dev/$d; done",
        "for d in fuse net/tun kmsg mem loop-control sda; do [ -e /dev/$d ] && echo present /dev/$d; done",
        "ls /dev | tr '\\n' ' '",
      ].join("; "),
      (s) => {
        s.linux.devices = [
          { path: "/dev/loop7", type: "b", major: 7, minor: 7, fileMode: 0o640, uid: 10, gid: 6 },
          { path: "/dev/fifo0", type: "p", fileMode: 0o600, uid: 1000, gid: 1001 },
          {
            path: "/dev/kmsg-copy",
            type: "c",
            major: 1,
            minor: 11,
            fileMode: 0o400,
            uid: 0,
            gid: 4,
          },
        ];
      },
    );
    assertEquals(r.stderr, "");
    assertEquals(
      r.stdout,
      [
        "/dev/loop7 block special file 7 7 640 10 6",
        "/dev/fifo0 fifo 0 0 600 1000 1001",
        "/dev/kmsg-copy character special file 1 b 400 0 4",
        "fd fifo0 full kmsg-copy loop7 mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ",
      ].join("\n"),
    );
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "security: linux.intelRdt is refused with a clear error and nothing is left",
  ...opts,
  async fn() {
    for (
      const [id, rdt] of [
        ["sec-rdt", { closID: "runts-test", l3CacheSchema: "L3:0=f" }],
        ["sec-rdt-empty", {}],
      ] as const
    ) {
      const r = await sh(id, "echo ran", (s) => (s.linux.intelRdt = rdt));
      assertEquals([r.stdout, r.code], ["", 1]);
      assertEquals(r.stderr, "runts: linux.intelRdt: Intel RDT is not supported by runts\n");
      assertEquals((await runts(["state", id], { root })).code, 1);
      assertEquals(await leftovers(root), NOTHING);
    }
  },
});

Deno.test({
  name: "security: linux.netDevices is refused with a clear error and nothing is left",
  ...opts,
  async fn() {
    const r = await sh("sec-netdev", "echo ran", (s) => (s.linux.netDevices = { eth9: {} }));
    assertEquals([r.stdout, r.code], ["", 1]);
    assertEquals(
      r.stderr,
      "runts: linux.netDevices: moving network devices into the container is not supported by runts\n",
    );
    assertEquals((await runts(["state", "sec-netdev"], { root })).code, 1);
    assertEquals(await leftovers(root), NOTHING);
  },
});
