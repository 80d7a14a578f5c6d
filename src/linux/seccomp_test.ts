import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import {
  libseccompAvailable,
  SECCOMP_FILTER_FLAG,
  seccompFlagSupported,
  syscallResolveName,
} from "../../ffi/libseccomp.ts";
import { SpecError } from "../oci/errors.ts";
import type { LinuxSeccomp, LinuxSyscall } from "../oci/spec.ts";
import {
  AUDIT_ARCH,
  BPF_ABS,
  BPF_ALU,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_MAXINSNS,
  BPF_MISC,
  BPF_RET,
  BPF_ST,
  BPF_W,
  decodeInsns,
  describeAction,
  encodeInsns,
  jump,
  runFilter,
  SECCOMP_RET,
  stmt,
} from "./bpf.ts";
import { type CompiledSeccomp, compileSeccomp, enosysStub } from "./seccomp.ts";

// Syscall numbers below are x86_64's; the tests that use them run there only.
const ignore = !libseccompAvailable() || Deno.build.arch !== "x86_64";
const X86_64 = AUDIT_ARCH.X86_64;
const SCMP_ARCH_X32 = 0x4000003e;
const SCMP_ARCH_S390X = 0x80000016;

/** What the filter decides for a syscall (by name, on x86_64, or by number and arch). */
function decide(
  c: CompiledSeccomp,
  call: string | number,
  args: (number | bigint)[] = [],
  arch: number = X86_64,
): string {
  const nr = typeof call === "number" ? call : syscallResolveName(call);
  return describeAction(runFilter(c.filter, { nr, arch, args: args.map((a) => BigInt(a)) }));
}

function allow(names: string[], extra: Partial<LinuxSyscall> = {}): LinuxSyscall {
  return { names, action: "SCMP_ACT_ALLOW", ...extra };
}

const BASIC = ["read", "write", "exit_group", "getpid"];

// ---- The interpreter ----

Deno.test("runFilter() runs loads, ALU, scratch memory, jumps and returns", () => {
  const prog = encodeInsns([
    stmt(BPF_LD | BPF_W | BPF_ABS, 16), // A = args[0] low
    stmt(BPF_ALU | 0x50 | BPF_K, 0xff), // A &= 0xff
    stmt(BPF_ST, 3), // M[3] = A
    stmt(BPF_LDX | 0x00, 2), // X = 2
    stmt(BPF_ALU | 0x20 | 0x08, 0), // A *= X
    stmt(BPF_MISC | 0x00, 0), // X = A
    stmt(BPF_LD | 0x60, 3), // A = M[3]
    stmt(BPF_ALU | 0x00 | 0x08, 0), // A += X  (3 * (arg & 0xff))
    jump(BPF_JMP | 0x10 | BPF_K, 30, 0, 1), // A == 30 ?
    stmt(BPF_RET | BPF_K, SECCOMP_RET.ALLOW),
    jump(BPF_JMP | BPF_JSET | BPF_K, 1, 0, 1), // A & 1 ?
    stmt(BPF_RET | BPF_K, SECCOMP_RET.ERRNO | 1),
    stmt(BPF_RET | 0x10, 0), // return A
  ]);
  assertEquals(runFilter(prog, { nr: 0, arch: X86_64, args: [0x10an] }), SECCOMP_RET.ALLOW);
  assertEquals(runFilter(prog, { nr: 0, arch: X86_64, args: [0x101n] }), SECCOMP_RET.ERRNO | 1);
  assertEquals(runFilter(prog, { nr: 0, arch: X86_64, args: [2n] }), 6);
});

Deno.test("runFilter() reads seccomp_data fields: nr, arch, ip and 64-bit args", () => {
  const field = (off: number) =>
    encodeInsns([stmt(BPF_LD | BPF_W | BPF_ABS, off), stmt(BPF_RET | 0x10, 0)]);
  const d = { nr: -1, arch: X86_64, ip: 0x1122334455667788n, args: [0n, 0xaabbccdd00000001n] };
  assertEquals(runFilter(field(0), d), 0xffffffff);
  assertEquals(runFilter(field(4), d), X86_64);
  assertEquals(runFilter(field(8), d), 0x55667788);
  assertEquals(runFilter(field(12), d), 0x11223344);
  assertEquals(runFilter(field(24), d), 1);
  assertEquals(runFilter(field(28), d), 0xaabbccdd);
  assertEquals(runFilter(field(60), d), 0);
});

Deno.test("runFilter() refuses what the kernel's checker would", async (t) => {
  const d = { nr: 0, arch: X86_64 };
  await t.step("a load outside seccomp_data", () => {
    const p = encodeInsns([stmt(BPF_LD | BPF_W | BPF_ABS, 64), stmt(BPF_RET | BPF_K, 0)]);
    assertThrows(() => runFilter(p, d), RangeError, "offset 64");
  });
  await t.step("a jump past the end", () => {
    const p = encodeInsns([stmt(BPF_JMP, 5), stmt(BPF_RET | BPF_K, 0)]);
    assertThrows(() => runFilter(p, d), RangeError, "outside the program");
  });
  await t.step("no return", () => {
    assertThrows(() => runFilter(encodeInsns([stmt(BPF_LD, 0)]), d), RangeError);
  });
  await t.step("bytes that are not whole instructions", () => {
    assertThrows(() => decodeInsns(new Uint8Array(12)), RangeError);
  });
});

Deno.test("describeAction() names every SECCOMP_RET_* action", () => {
  assertEquals(describeAction(0x7fff0000), "ALLOW");
  assertEquals(describeAction(0x00050001), "ERRNO(1)");
  assertEquals(describeAction(0x80000000), "KILL_PROCESS");
  assertEquals(describeAction(0), "KILL_THREAD");
  assertEquals(describeAction(0x00030000), "TRAP");
  assertEquals(describeAction(0x7ff00005), "TRACE(5)");
  assertEquals(describeAction(0x7ffc0000), "LOG");
  assertEquals(describeAction(0x7fc00000), "USER_NOTIF");
  assertEquals(describeAction(0x12340000), "UNKNOWN(0x12340000)");
});

// ---- compileSeccomp() ----

Deno.test({
  name: "compileSeccomp() allow-list with default ERRNO: getpid allowed, mount EPERM",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [allow([...BASIC, "openat2"])],
    });
    assertEquals(c.filter.byteLength % 8, 0);
    assertEquals(decide(c, "getpid"), "ALLOW");
    assertEquals(runFilter(c.filter, { nr: 165, arch: X86_64 }), 0x00050001); // mount
    assertEquals(decide(c, "mount"), "ERRNO(1)");
    assertEquals(c.notify, false);
    assertEquals(c.unknownSyscalls, []);
    assertEquals("listenerPath" in c, false);
  },
});

Deno.test({
  name: "compileSeccomp() maps every action, with errnoRet for ERRNO and TRACE (EPERM by default)",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      defaultErrnoRet: 13,
      syscalls: [
        allow(["getpid"]),
        { names: ["getppid"], action: "SCMP_ACT_KILL" },
        { names: ["getuid"], action: "SCMP_ACT_KILL_THREAD" },
        { names: ["getgid"], action: "SCMP_ACT_KILL_PROCESS" },
        { names: ["geteuid"], action: "SCMP_ACT_TRAP" },
        { names: ["getegid"], action: "SCMP_ACT_LOG" },
        { names: ["gettid"], action: "SCMP_ACT_TRACE" },
        { names: ["getpgrp"], action: "SCMP_ACT_TRACE", errnoRet: 7 },
        { names: ["getsid"], action: "SCMP_ACT_ERRNO" },
        { names: ["getpgid"], action: "SCMP_ACT_ERRNO", errnoRet: 22 },
        { names: ["openat2"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      ],
    });
    assertEquals(decide(c, "getpid"), "ALLOW");
    assertEquals(decide(c, "getppid"), "KILL_THREAD");
    assertEquals(decide(c, "getuid"), "KILL_THREAD");
    assertEquals(decide(c, "getgid"), "KILL_PROCESS");
    assertEquals(decide(c, "geteuid"), "TRAP");
    assertEquals(decide(c, "getegid"), "LOG");
    assertEquals(decide(c, "gettid"), "TRACE(1)");
    assertEquals(decide(c, "getpgrp"), "TRACE(7)");
    assertEquals(decide(c, "getsid"), "ERRNO(1)");
    assertEquals(decide(c, "getpgid"), "ERRNO(22)");
    assertEquals(decide(c, "openat2"), "ERRNO(38)");
    assertEquals(decide(c, "mount"), "ERRNO(13)");
  },
});

Deno.test({
  name: "compileSeccomp() compares arguments with every operator",
  ignore,
  async fn(t) {
    const table: [string, boolean[]][] = [
      // personality(arg0 OP 8) for arg0 = 7, 8, 9
      ["SCMP_CMP_NE", [true, false, true]],
      ["SCMP_CMP_LT", [true, false, false]],
      ["SCMP_CMP_LE", [true, true, false]],
      ["SCMP_CMP_EQ", [false, true, false]],
      ["SCMP_CMP_GE", [false, true, true]],
      ["SCMP_CMP_GT", [false, false, true]],
    ];
    for (const [op, want] of table) {
      await t.step(op, () => {
        const c = compileSeccomp({
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [
            allow([...BASIC, "openat2"]),
            allow(["personality"], { args: [{ index: 0, value: 8, op } as never] }),
          ],
        });
        const got = [7, 8, 9].map((v) => decide(c, "personality", [v]) === "ALLOW");
        assertEquals(got, want);
      });
    }
    await t.step("SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo", () => {
      const c = compileSeccomp({
        defaultAction: "SCMP_ACT_ERRNO",
        syscalls: [
          allow(["openat2"]),
          allow(["personality"], {
            args: [{ index: 0, value: 0xff00, valueTwo: 0x0800, op: "SCMP_CMP_MASKED_EQ" }],
          }),
        ],
      });
      assertEquals(decide(c, "personality", [0x0812]), "ALLOW");
      assertEquals(decide(c, "personality", [0x08ff]), "ALLOW");
      assertEquals(decide(c, "personality", [0x0912]), "ERRNO(1)");
    });
    await t.step("64-bit values compare both halves", () => {
      const big = 2 ** 40 + 1;
      const c = compileSeccomp({
        defaultAction: "SCMP_ACT_ERRNO",
        syscalls: [
          allow(["openat2"]),
          allow(["lseek"], { args: [{ index: 1, value: big, op: "SCMP_CMP_EQ" }] }),
          allow(["pread64"], { args: [{ index: 3, value: 2 ** 33, op: "SCMP_CMP_GT" }] }),
        ],
      });
      assertEquals(decide(c, "lseek", [3, big]), "ALLOW");
      assertEquals(decide(c, "lseek", [3, 1]), "ERRNO(1)");
      assertEquals(decide(c, "lseek", [3, 2 ** 40]), "ERRNO(1)");
      assertEquals(decide(c, "pread64", [0, 0, 0, 2 ** 33 + 1]), "ALLOW");
      assertEquals(decide(c, "pread64", [0, 0, 0, 2 ** 32 + 5]), "ERRNO(1)");
      assertEquals(decide(c, "pread64", [0, 0, 0, 2 ** 34]), "ALLOW");
    });
  },
});

Deno.test({
  name: "compileSeccomp() filters clone's namespace flags with MASKED_EQ as Docker's profile does",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        allow([...BASIC, "openat2"]),
        allow(["clone"], {
          args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
        }),
      ],
    });
    const threadFlags = 0x3d0f00; // CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|*TID
    assertEquals(decide(c, "clone", [threadFlags]), "ALLOW");
    assertEquals(decide(c, "clone", [0x4111]), "ALLOW"); // vfork-like
    assertEquals(decide(c, "clone", [0x20000 | 17]), "ERRNO(1)"); // CLONE_NEWNS
    assertEquals(decide(c, "clone", [0x10000000 | 17]), "ERRNO(1)"); // CLONE_NEWUSER
    assertEquals(decide(c, "clone", [0x40000000]), "ERRNO(1)"); // CLONE_NEWNET
  },
});

Deno.test({
  name: "compileSeccomp() ANDs conditions on distinct arguments, ORs repeated ones (runc)",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        allow(["openat2"]),
        allow(["socket"], {
          args: [
            { index: 0, value: 1, op: "SCMP_CMP_EQ" },
            { index: 1, value: 1, op: "SCMP_CMP_EQ" },
          ],
        }),
        allow(["personality"], {
          args: [
            { index: 0, value: 0, op: "SCMP_CMP_EQ" },
            { index: 0, value: 8, op: "SCMP_CMP_EQ" },
          ],
        }),
      ],
    });
    assertEquals(decide(c, "socket", [1, 1]), "ALLOW");
    assertEquals(decide(c, "socket", [1, 2]), "ERRNO(1)");
    assertEquals(decide(c, "socket", [2, 1]), "ERRNO(1)");
    assertEquals(decide(c, "personality", [0]), "ALLOW");
    assertEquals(decide(c, "personality", [8]), "ALLOW");
    assertEquals(decide(c, "personality", [9]), "ERRNO(1)");
  },
});

Deno.test({
  name: "compileSeccomp() skips syscall names unknown to libseccomp",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [allow(["getpid", "no_such_syscall", "openat2"]), allow(["no_such_syscall"])],
    });
    assertEquals(c.unknownSyscalls, ["no_such_syscall"]);
    assertEquals(decide(c, "getpid"), "ALLOW");
  },
});

Deno.test({
  name: "compileSeccomp() skips a rule whose action is the default action",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        allow(["getpid", "openat2"]),
        { names: ["mount"], action: "SCMP_ACT_ERRNO" },
        { names: ["umount2"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
        { names: ["reboot"], action: "SCMP_ACT_ERRNO", errnoRet: 2 }, // not the default: kept
      ],
    });
    assertEquals(decide(c, "mount"), "ERRNO(1)");
    assertEquals(decide(c, "umount2"), "ERRNO(1)");
    assertEquals(decide(c, "reboot"), "ERRNO(2)");
    const allowAll = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [allow(BASIC)] });
    assertEquals(decide(allowAll, "getpid"), "ALLOW");
  },
});

Deno.test({
  name: "compileSeccomp() covers the listed architectures; other ones get KILL",
  ignore,
  fn() {
    const native = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls: [allow(BASIC)] });
    assertEquals(decide(native, 39, [], AUDIT_ARCH.AARCH64), "KILL_THREAD");
    assertEquals(decide(native, 20, [], AUDIT_ARCH.I386), "KILL_THREAD");
    assertEquals(decide(native, 0x40000000 + 39), "KILL_THREAD"); // x32 not included

    const multi = compileSeccomp({
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [allow([...BASIC, "socketcall", "openat2"])],
    });
    assertEquals(decide(multi, "getpid"), "ALLOW");
    assertEquals(decide(multi, 20, [], AUDIT_ARCH.I386), "ALLOW"); // getpid on i386
    assertEquals(decide(multi, 102, [], AUDIT_ARCH.I386), "ALLOW"); // socketcall on i386
    assertEquals(decide(multi, 21, [], AUDIT_ARCH.I386), "ERRNO(1)"); // mount on i386
    assertEquals(decide(multi, 0x40000000 + 39), "ALLOW"); // getpid on x32
    assertEquals(decide(multi, 39, [], AUDIT_ARCH.AARCH64), "KILL_THREAD");
  },
});

Deno.test({
  name: "compileSeccomp() maps flags to SECCOMP_FILTER_FLAG_* (SPEC_ALLOW when absent, as runc)",
  ignore,
  fn() {
    const base: LinuxSeccomp = { defaultAction: "SCMP_ACT_ERRNO", syscalls: [allow(BASIC)] };
    const flagsOf = (flags: string[] | undefined) =>
      compileSeccomp(flags === undefined ? { ...base } : { ...base, flags }).flags;
    const specAllow = seccompFlagSupported(SECCOMP_FILTER_FLAG.SPEC_ALLOW)
      ? SECCOMP_FILTER_FLAG.SPEC_ALLOW
      : 0;
    assertEquals(flagsOf(undefined), specAllow);
    assertEquals(flagsOf([]), 0);
    assertEquals(flagsOf(["SECCOMP_FILTER_FLAG_LOG"]), SECCOMP_FILTER_FLAG.LOG);
    assertEquals(flagsOf(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]), SECCOMP_FILTER_FLAG.SPEC_ALLOW);
    assertEquals(flagsOf(["SECCOMP_FILTER_FLAG_TSYNC"]), 0); // never: runc ignores it
    assertEquals(
      flagsOf(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
      SECCOMP_FILTER_FLAG.LOG | SECCOMP_FILTER_FLAG.SPEC_ALLOW,
    );
    const waitKill = seccompFlagSupported(
      SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG.NEW_LISTENER,
    );
    if (waitKill) {
      // Without a listener the flag means nothing (and the kernel would refuse it).
      assertEquals(flagsOf(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), 0);
    }
  },
});

Deno.test({
  name: "compileSeccomp() with SCMP_ACT_NOTIFY asks for a listener fd",
  ignore,
  fn() {
    const c = compileSeccomp({
      defaultAction: "SCMP_ACT_ALLOW",
      flags: [],
      listenerPath: "/run/agent.sock",
      syscalls: [{ names: ["mkdirat", "mkdir"], action: "SCMP_ACT_NOTIFY" }],
    });
    assertEquals(c.notify, true);
    assertEquals(c.flags, SECCOMP_FILTER_FLAG.NEW_LISTENER);
    assertEquals(c.listenerPath, "/run/agent.sock");
    assertEquals(decide(c, "mkdir"), "USER_NOTIF");
    assertEquals(decide(c, "getpid"), "ALLOW");
    if (
      seccompFlagSupported(
        SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV | SECCOMP_FILTER_FLAG.NEW_LISTENER,
      )
    ) {
      const w = compileSeccomp({
        defaultAction: "SCMP_ACT_ALLOW",
        flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        listenerPath: "/run/agent.sock",
        syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }],
      });
      assertEquals(
        w.flags,
        SECCOMP_FILTER_FLAG.NEW_LISTENER | SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV,
      );
    }
  },
});

Deno.test({
  name: "compileSeccomp() errors name the field",
  ignore,
  async fn(t) {
    const ok: LinuxSyscall = allow(BASIC);
    const cases: [string, unknown, string][] = [
      [
        "unknown action",
        {
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [ok, ok, ok, { ...ok, action: "SCMP_ACT_FOO" }],
        },
        'linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"',
      ],
      [
        "unknown default action",
        { defaultAction: "SCMP_ACT_NOPE" },
        'linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE"',
      ],
      [
        "unknown operator",
        {
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [{
            ...ok,
            args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ" }, {
              index: 1,
              value: 1,
              op: "SCMP_CMP_X",
            }],
          }],
        },
        'linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_X"',
      ],
      [
        "argument index",
        {
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [{ ...ok, args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] }],
        },
        "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5, not 6",
      ],
      [
        "negative value",
        {
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [{ ...ok, args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }] }],
        },
        "linux.seccomp.syscalls[0].args[0].value: must be an integer from 0 to 2^64-1, not -1",
      ],
      [
        "errnoRet",
        {
          defaultAction: "SCMP_ACT_ERRNO",
          syscalls: [{ ...ok, action: "SCMP_ACT_ERRNO", errnoRet: 70000 }],
        },
        "linux.seccomp.syscalls[0].errnoRet: must be an integer from 0 to 65535, not 70000",
      ],
      [
        "empty name",
        { defaultAction: "SCMP_ACT_ERRNO", syscalls: [ok, { ...ok, names: ["read", ""] }] },
        "linux.seccomp.syscalls[1].names[1]: must be a syscall name",
      ],
      [
        "unknown architecture",
        { defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"] },
        'linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"',
      ],
      [
        "unknown flag",
        { defaultAction: "SCMP_ACT_ERRNO", flags: ["SECCOMP_FILTER_FLAG_FOO"] },
        'linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_FOO"',
      ],
      [
        "NOTIFY as the default action",
        { defaultAction: "SCMP_ACT_NOTIFY", listenerPath: "/x" },
        "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
      ],
      [
        "NOTIFY for write",
        {
          defaultAction: "SCMP_ACT_ALLOW",
          listenerPath: "/x",
          syscalls: [{ names: ["read", "write"], action: "SCMP_ACT_NOTIFY" }],
        },
        "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for write",
      ],
      [
        "NOTIFY without listenerPath",
        {
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_NOTIFY" }],
        },
        "linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY",
      ],
    ];
    for (const [name, spec, msg] of cases) {
      await t.step(name, () => {
        const e = assertThrows(() => compileSeccomp(spec as LinuxSeccomp), SpecError);
        assertStringIncludes(e.message, msg);
      });
    }
    await t.step("the field prefix is an option", () => {
      const e = assertThrows(
        () => compileSeccomp({ defaultAction: "SCMP_ACT_X" as never }, { field: "seccomp" }),
        SpecError,
      );
      assertStringIncludes(e.message, 'seccomp.defaultAction: unknown action "SCMP_ACT_X"');
    });
  },
});

// ---- The -ENOSYS stub ----

Deno.test({
  name: "compileSeccomp() returns ENOSYS above the largest syscall the profile names",
  ignore,
  fn() {
    const spec: LinuxSeccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: [allow([...BASIC, "openat2"])],
    };
    const c = compileSeccomp(spec);
    const openat2 = syscallResolveName("openat2"); // 437
    assertEquals(decide(c, openat2), "ALLOW");
    assertEquals(decide(c, openat2 - 1), "ERRNO(1)"); // below the largest: the default action
    assertEquals(decide(c, openat2 + 1), "ERRNO(38)");
    assertEquals(decide(c, 1000), "ERRNO(38)");
    assertEquals(decide(c, 0x40000000 + 1000), "ERRNO(38)"); // x32
    assertEquals(decide(c, 0x40000000 + 165), "ERRNO(1)");
    assertEquals(decide(c, 1000, [], AUDIT_ARCH.I386), "ERRNO(38)");
    assertEquals(decide(c, 21, [], AUDIT_ARCH.I386), "ERRNO(1)");
    assertEquals(decide(c, 39, [], AUDIT_ARCH.AARCH64), "KILL_THREAD");
    // Without the stub, and when the default lets calls through or already says ENOSYS.
    const plain = compileSeccomp(spec, { enosysStub: false });
    assertEquals(decide(plain, 1000), "ERRNO(1)");
    assert(plain.filter.byteLength < c.filter.byteLength);
    for (
      const d of [
        { defaultAction: "SCMP_ACT_ALLOW" },
        { defaultAction: "SCMP_ACT_LOG" },
        { defaultAction: "SCMP_ACT_TRACE" },
        { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 38 },
      ] as const
    ) {
      const s = { ...spec, ...d, syscalls: [{ names: ["getpid"], action: "SCMP_ACT_KILL" }] };
      assertEquals(
        compileSeccomp(s as LinuxSeccomp),
        compileSeccomp(s as LinuxSeccomp, { enosysStub: false }),
      );
    }
    const kill = compileSeccomp({ ...spec, defaultAction: "SCMP_ACT_KILL_PROCESS" });
    assertEquals(decide(kill, 1000), "ERRNO(38)");
    assertEquals(decide(kill, "mount"), "KILL_PROCESS");
  },
});

Deno.test("enosysStub() returns ENOSYS for s390x's multiplexer (syscall 0) and big numbers", () => {
  const stub = enosysStub(new Map([[SCMP_ARCH_S390X, 450]]));
  // Stand-in for libseccomp's program: allow everything.
  const prog = encodeInsns([...stub, stmt(BPF_RET | BPF_K, SECCOMP_RET.ALLOW)]);
  const at = (nr: number, arch: number) => describeAction(runFilter(prog, { nr, arch }));
  assertEquals(at(0, SCMP_ARCH_S390X), "ERRNO(38)");
  assertEquals(at(451, SCMP_ARCH_S390X), "ERRNO(38)");
  assertEquals(at(450, SCMP_ARCH_S390X), "ALLOW");
  assertEquals(at(5, SCMP_ARCH_S390X), "ALLOW");
  assertEquals(at(1000, X86_64), "ALLOW"); // an architecture without a section
  assertEquals(enosysStub(new Map()), []);
});

Deno.test("enosysStub() separates x86_64 and x32 limits", () => {
  const prog = (m: Map<number, number>) =>
    encodeInsns([...enosysStub(m), stmt(BPF_RET | BPF_K, SECCOMP_RET.ALLOW)]);
  const at = (p: Uint8Array, nr: number) => describeAction(runFilter(p, { nr, arch: X86_64 }));
  const both = prog(new Map([[X86_64, 400], [SCMP_ARCH_X32, 0x40000000 + 300]]));
  assertEquals(at(both, 400), "ALLOW");
  assertEquals(at(both, 401), "ERRNO(38)");
  assertEquals(at(both, 0x40000000 + 300), "ALLOW");
  assertEquals(at(both, 0x40000000 + 301), "ERRNO(38)");
  const x64 = prog(new Map([[X86_64, 400]]));
  assertEquals(at(x64, 401), "ERRNO(38)");
  assertEquals(at(x64, 0x40000000 + 999), "ALLOW"); // x32: left to the filter
  const x32 = prog(new Map([[SCMP_ARCH_X32, 0x40000000 + 300]]));
  assertEquals(at(x32, 999), "ALLOW"); // x86_64: left to the filter
  assertEquals(at(x32, 0x40000000 + 301), "ERRNO(38)");
});

// ---- A profile shaped like Docker's default ----

const UNISTD_64 = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

const unistd = readText(UNISTD_64);

/** Denied by Docker's default profile (without extra capabilities), or argument-filtered. */
const DENY = new Set([
  "acct",
  "add_key",
  "bpf",
  "clock_adjtime",
  "clock_settime",
  "create_module",
  "delete_module",
  "finit_module",
  "get_kernel_syms",
  "get_mempolicy",
  "init_module",
  "ioperm",
  "iopl",
  "kcmp",
  "kexec_file_load",
  "kexec_load",
  "keyctl",
  "lookup_dcookie",
  "mbind",
  "mount",
  "move_pages",
  "nfsservctl",
  "open_by_handle_at",
  "perf_event_open",
  "pivot_root",
  "process_vm_readv",
  "process_vm_writev",
  "ptrace",
  "query_module",
  "quotactl",
  "reboot",
  "request_key",
  "set_mempolicy",
  "setns",
  "settimeofday",
  "swapon",
  "swapoff",
  "sysfs",
  "_sysctl",
  "syslog",
  "umount2",
  "unshare",
  "uselib",
  "userfaultfd",
  "ustat",
  "vhangup",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "move_mount",
  "open_tree",
  "mount_setattr",
  "afs_syscall",
  "tuxcall",
  "security",
  "putpmsg",
  "getpmsg",
  "vserver",
  "personality",
  "clone",
  "clone3",
  "socket",
]);

/** A profile of the same shape as Docker's default, built from the kernel headers. */
function dockerLikeProfile(header: string): LinuxSeccomp {
  const names = [...header.matchAll(/^#define __NR_(\w+)\s+\d+/gm)].map((m) => m[1]!);
  const allowed = names.filter((n) => !DENY.has(n));
  const eq = (value: number) => ({ index: 0, value, op: "SCMP_CMP_EQ" as const });
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls: [
      allow(allowed),
      ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((v) =>
        allow(["personality"], { args: [eq(v)] })
      ),
      allow(["clone"], {
        args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      }),
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 },
      allow(["socket"], { args: [{ index: 0, value: 40, op: "SCMP_CMP_NE" }] }),
      // Docker lists some calls with the default action; they are skipped.
      { names: ["mount", "reboot"], action: "SCMP_ACT_ERRNO", errnoRet: 1 },
    ],
  };
}

Deno.test({
  name: "compileSeccomp() compiles a Docker-sized profile under BPF_MAXINSNS with its decisions",
  ignore: ignore || unistd === undefined,
  fn() {
    const spec = dockerLikeProfile(unistd!);
    assert(spec.syscalls![0]!.names.length > 250, `${spec.syscalls![0]!.names.length} names`);
    const c = compileSeccomp(spec);
    const n = c.filter.byteLength / 8;
    assert(n < BPF_MAXINSNS, `${n} instructions`);
    assertEquals(decide(c, "getpid"), "ALLOW");
    assertEquals(decide(c, "openat"), "ALLOW");
    assertEquals(decide(c, "execve"), "ALLOW");
    assertEquals(decide(c, "mount"), "ERRNO(1)");
    assertEquals(decide(c, "unshare"), "ERRNO(1)");
    assertEquals(decide(c, "personality", [0]), "ALLOW");
    assertEquals(decide(c, "personality", [0xffffffff]), "ALLOW");
    assertEquals(decide(c, "personality", [0x1234]), "ERRNO(1)");
    assertEquals(decide(c, "clone", [0x3d0f00]), "ALLOW");
    assertEquals(decide(c, "clone", [0x10000000 | 17]), "ERRNO(1)");
    assertEquals(decide(c, "clone3"), "ERRNO(38)");
    assertEquals(decide(c, "socket", [2, 1, 0]), "ALLOW");
    assertEquals(decide(c, "socket", [40, 1, 0]), "ERRNO(1)");
    assertEquals(decide(c, 1000), "ERRNO(38)");
    assertEquals(decide(c, 20, [], AUDIT_ARCH.I386), "ALLOW"); // getpid, i386
    assertEquals(decide(c, 39, [], AUDIT_ARCH.AARCH64), "KILL_THREAD");
  },
});

// ---- The kernel agrees: load the filter in a child Deno and run busybox under it ----

function findBusybox(): string | undefined {
  const root = Deno.env.get("RUNTS_TEST_ROOTFS");
  const candidates = [root && `${root}/bin/busybox`, "/usr/bin/busybox", "/bin/busybox"];
  for (const c of candidates) {
    if (c && readText(c) !== undefined) return c;
  }
  return undefined;
}

const busybox = findBusybox();

const PROBE = `
import { compileSeccomp } from "${new URL("./seccomp.ts", import.meta.url).href}";
import { loadSeccompFilter, SECCOMP_FILTER_FLAG } from "${
  new URL("../../ffi/libseccomp.ts", import.meta.url).href
}";
import { rawSyscall } from "${new URL("../../ffi/syscall.ts", import.meta.url).href}";
const [specPath, busybox] = Deno.args;
const c = compileSeccomp(JSON.parse(Deno.readTextFileSync(specPath)));
if (rawSyscall(157, 38, 1, 0, 0, 0) !== 0) throw new Error("prctl(PR_SET_NO_NEW_PRIVS)");
// TSYNC so that every thread of this Deno, and so the busybox it spawns, is filtered.
loadSeccompFilter(c.filter, c.flags | SECCOMP_FILTER_FLAG.TSYNC);
const calls = {
  getpid: rawSyscall(39) === Deno.pid ? "ok" : "wrong",
  mount: rawSyscall(165, 0, 0, 0, 0, 0),
  personality: rawSyscall(135, 0x1234),
  vsock: rawSyscall(41, 40, 1, 0),
  nr1000: rawSyscall(1000),
  clone3: rawSyscall(435, 0, 0),
};
const out = new Deno.Command(busybox, {
  args: ["sh", "-c", "echo hello; grep Seccomp: /proc/self/status; ls / >/dev/null && echo ls-ok; busybox ps >/dev/null && echo ps-ok; id -u"],
}).outputSync();
const dec = new TextDecoder();
console.log(JSON.stringify({ calls, code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) }));
`;

async function runProbe(spec: LinuxSeccomp) {
  const dir = await Deno.makeTempDir({ prefix: "runts-seccomp-" });
  try {
    await Deno.writeTextFile(`${dir}/probe.ts`, PROBE);
    await Deno.writeTextFile(`${dir}/spec.json`, JSON.stringify(spec));
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-check",
        "--no-config",
        `${dir}/probe.ts`,
        `${dir}/spec.json`,
        busybox!,
      ],
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "compileSeccomp() output loads in the kernel, decides as runFilter says, runs busybox",
  ignore: ignore || unistd === undefined || busybox === undefined,
  async fn() {
    const r = await runProbe(dockerLikeProfile(unistd!));
    assertEquals(r.calls, {
      getpid: "ok",
      mount: -1, // EPERM
      personality: -1,
      vsock: -1,
      nr1000: -38, // ENOSYS from the stub
      clone3: -38,
    });
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "hello\nSeccomp:\t2\nls-ok\nps-ok\n");
  },
});

// ---- A Docker-format profile packaged on this machine, if any (never copied into the repo) ----

const PACKAGED_PROFILES = [
  "/usr/share/containers/seccomp.json", // golang-github-containers-common (podman's, Docker's shape)
  "/usr/share/docker.io/contrib/seccomp/default.json",
  "/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json",
  "/etc/docker/seccomp.json",
];
const packaged = PACKAGED_PROFILES.find((p) => readText(p) !== undefined);

/** Docker's default capabilities, which select the caps-dependent rules of its profiles. */
const DOCKER_CAPS = new Set([
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
]);

interface DockerRule extends LinuxSyscall {
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

/** Docker's profile format to `linux.seccomp` for amd64 and Docker's default capabilities. */
function fromDockerFormat(j: {
  defaultAction: LinuxSeccomp["defaultAction"];
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  syscalls: DockerRule[];
}): LinuxSeccomp {
  const arch = j.archMap?.find((a) => a.architecture === "SCMP_ARCH_X86_64");
  const keep = (r: DockerRule) =>
    (r.includes?.arches === undefined || r.includes.arches.includes("amd64")) &&
    !(r.excludes?.arches ?? []).includes("amd64") &&
    (r.includes?.caps ?? []).every((c) => DOCKER_CAPS.has(c)) &&
    !(r.excludes?.caps ?? []).some((c) => DOCKER_CAPS.has(c));
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
  name: `compileSeccomp() compiles the packaged Docker-format profile (${packaged ?? "absent"})`,
  ignore: ignore || packaged === undefined,
  async fn() {
    const spec = fromDockerFormat(JSON.parse(readText(packaged!)!));
    const c = compileSeccomp(spec);
    assert(c.filter.byteLength / 8 < BPF_MAXINSNS, `${c.filter.byteLength / 8} instructions`);
    assertEquals(decide(c, "getpid"), "ALLOW");
    assertEquals(decide(c, "execve"), "ALLOW");
    assertEquals(decide(c, "kexec_load"), "ERRNO(1)");
    assertEquals(decide(c, "personality", [8]), "ALLOW");
    assertEquals(decide(c, 1000), "ERRNO(38)");
    if (busybox !== undefined && unistd !== undefined) {
      // Docker's own default errno is EPERM: the stub keeps unknown calls at ENOSYS.
      const r = await runProbe({ ...spec, defaultErrnoRet: 1 });
      assertEquals(r.calls.getpid, "ok");
      assertEquals(r.calls.nr1000, -38);
      assertEquals(r.calls.personality, -1);
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stdout, "hello\nSeccomp:\t2\nls-ok\nps-ok\n");
    }
  },
});
