import { assert, assertEquals, assertStringIncludes, assertThrows } from "../tests/assert.ts";
import { SyscallError } from "./error.ts";
import {
  actErrno,
  actTrace,
  archNative,
  archResolveName,
  encodeArgCmps,
  encodeSockFprog,
  libseccompAvailable,
  libseccompVersion,
  NR_SCMP_ERROR,
  SCMP_ACT,
  SCMP_ARG_CMP,
  SCMP_CMP,
  SCMP_FLTATR,
  SECCOMP_FILTER_FLAG,
  seccompApiLevel,
  SeccompFilter,
  seccompFlagSupported,
  SOCK_FPROG,
  syscallResolveName,
} from "./libseccomp.ts";

const ignore = !libseccompAvailable();
const X86_64 = 0xc000003e;

Deno.test("struct scmp_arg_cmp layout: 24 bytes, u32 arg, u32 op, u64 datum_a, u64 datum_b", () => {
  assertEquals(SCMP_ARG_CMP, { SIZE: 24, arg: 0, op: 4, datumA: 8, datumB: 16 });
  const b = encodeArgCmps([
    { arg: 2, op: SCMP_CMP.MASKED_EQ, datumA: 0x7e020000n, datumB: 0n },
    { arg: 5, op: SCMP_CMP.NE, datumA: 0xffffffffffffffffn, datumB: 0x0102030405060708n },
  ]);
  assertEquals(b.byteLength, 48);
  const dv = new DataView(b.buffer);
  assertEquals(dv.getUint32(0, true), 2);
  assertEquals(dv.getUint32(4, true), 7);
  assertEquals(dv.getBigUint64(8, true), 0x7e020000n);
  assertEquals(dv.getBigUint64(16, true), 0n);
  assertEquals(dv.getUint32(24, true), 5);
  assertEquals(dv.getUint32(28, true), 1);
  assertEquals(dv.getBigUint64(32, true), 0xffffffffffffffffn);
  assertEquals(dv.getBigUint64(40, true), 0x0102030405060708n);
});

Deno.test("struct sock_fprog layout: u16 len, 6 bytes padding, u64 filter pointer", () => {
  assertEquals(SOCK_FPROG, { SIZE: 16, len: 0, filter: 8 });
  const b = encodeSockFprog(0x7fff12345678n, 300);
  assertEquals([...b.subarray(0, 8)], [44, 1, 0, 0, 0, 0, 0, 0]);
  assertEquals(new DataView(b.buffer).getBigUint64(8, true), 0x7fff12345678n);
});

Deno.test("actErrno() and actTrace() encode SCMP_ACT_ERRNO(x) and SCMP_ACT_TRACE(x)", () => {
  assertEquals(actErrno(1), 0x00050001);
  assertEquals(actErrno(38), 0x00050026);
  assertEquals(actErrno(0x12345), 0x00052345);
  assertEquals(actTrace(7), 0x7ff00007);
  assertEquals(SCMP_ACT.KILL_PROCESS, 0x80000000);
});

Deno.test({
  name: "libseccompVersion() and seccompApiLevel() describe libseccomp 2.5 or later",
  ignore,
  fn() {
    const v = libseccompVersion();
    assert(v.major > 2 || (v.major === 2 && v.minor >= 5), JSON.stringify(v));
    assert(seccompApiLevel() >= 3);
  },
});

Deno.test({
  name: "syscallResolveName() resolves per architecture, -1 for unknown names",
  ignore: ignore || Deno.build.arch !== "x86_64",
  fn() {
    assertEquals(archNative() >>> 0, X86_64);
    assertEquals(syscallResolveName("getpid"), 39);
    assertEquals(syscallResolveName("getpid", X86_64), 39);
    assertEquals(syscallResolveName("getpid", archResolveName("x86")), 20);
    assertEquals(syscallResolveName("getpid", archResolveName("x32")), 0x40000000 + 39);
    assertEquals(syscallResolveName("getpid", archResolveName("aarch64")), 172);
    assertEquals(syscallResolveName("no_such_syscall"), NR_SCMP_ERROR);
    assertEquals(syscallResolveName(""), NR_SCMP_ERROR);
    // A call multiplexed on other architectures only is a negative pseudo-syscall here.
    assert(syscallResolveName("socketcall") < -1);
    assertEquals(syscallResolveName("socketcall", archResolveName("x86")), 102);
  },
});

Deno.test({
  name: "archResolveName() gives the AUDIT_ARCH token, 0 for unknown names",
  ignore,
  fn() {
    assertEquals(archResolveName("x86_64"), X86_64);
    assertEquals(archResolveName("aarch64"), 0xc00000b7);
    assertEquals(archResolveName("x86"), 0x40000003);
    assertEquals(archResolveName("vax"), 0);
  },
});

Deno.test({
  name: "SeccompFilter exports BPF and reports libseccomp's refusals as SyscallErrors",
  ignore,
  fn() {
    const f = SeccompFilter.init(actErrno(1));
    try {
      assert(f.hasArch(archNative()));
      assertEquals(f.addArch(archNative()), false);
      assertEquals(f.addArch(archResolveName("x86")), true);
      assert(f.hasArch(archResolveName("x86")));
      assertEquals(f.removeArch(archResolveName("x86")), true);
      assertEquals(f.removeArch(archResolveName("x86")), false);
      f.setAttr(SCMP_FLTATR.CTL_NNP, 0);
      assertEquals(f.getAttr(SCMP_FLTATR.CTL_NNP), 0);
      assertEquals(f.getAttr(SCMP_FLTATR.ACT_DEFAULT), actErrno(1));
      f.addRule(SCMP_ACT.ALLOW, syscallResolveName("getpid"), [], '"getpid"');
      f.addRule(
        SCMP_ACT.ALLOW,
        syscallResolveName("personality"),
        [{ arg: 0, op: SCMP_CMP.EQ, datumA: 8n, datumB: 0n }],
        '"personality"',
      );
      // The default action again: libseccomp says EACCES.
      const e = assertThrows(
        () => f.addRule(actErrno(1), syscallResolveName("mount"), [], '"mount" (rule 3)'),
        SyscallError,
      );
      assertEquals((e as SyscallError).code, "EACCES");
      assertStringIncludes(e.message, 'seccomp_rule_add_array "mount" (rule 3): EACCES');
      const bpf = f.exportBpf();
      assert(bpf.byteLength > 0 && bpf.byteLength % 8 === 0);
      assertEquals(f.exportBpf(), bpf);
    } finally {
      f.release();
      f.release();
    }
    assertThrows(() => f.exportBpf(), Error, "used after release");
  },
});

Deno.test({
  name: "seccompFlagSupported() accepts the kernel's flags and refuses unknown bits",
  ignore,
  fn() {
    assert(seccompFlagSupported(0));
    assert(seccompFlagSupported(SECCOMP_FILTER_FLAG.LOG));
    assert(!seccompFlagSupported(1 << 20));
    // WAIT_KILLABLE_RECV only goes with NEW_LISTENER.
    assert(!seccompFlagSupported(SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV));
  },
});
