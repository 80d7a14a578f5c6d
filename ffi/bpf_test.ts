import { assert, assertEquals, assertStringIncludes, assertThrows } from "../tests/assert.ts";
import {
  BPF_CMD,
  BPF_INSN_SIZE,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  BpfLoadError,
  decodeInsns,
  decodeProgInfo,
  encodeInsns,
  encodeProgAttachAttr,
  encodeProgLoadAttr,
  encodeProgQueryAttr,
  GET_FD_BY_ID_ATTR,
  GET_INFO_ATTR,
  logTail,
  PROG_ATTACH_ATTR,
  PROG_INFO,
  PROG_LOAD_ATTR,
  PROG_QUERY_ATTR,
  progInfo,
  progLoad,
} from "./bpf.ts";
import { closeFd } from "./process.ts";
import { SYS } from "./sysno_x86_64.ts";

const isRoot = Deno.uid() === 0;

Deno.test("union bpf_attr layouts are the kernel's (include/uapi/linux/bpf.h)", () => {
  assertEquals(SYS.bpf, 321);
  assertEquals(BPF_CMD, {
    PROG_LOAD: 5,
    PROG_ATTACH: 8,
    PROG_DETACH: 9,
    PROG_GET_FD_BY_ID: 13,
    OBJ_GET_INFO_BY_FD: 15,
    PROG_QUERY: 16,
  });
  assertEquals(PROG_LOAD_ATTR, {
    SIZE: 72,
    progType: 0,
    insnCnt: 4,
    insns: 8,
    license: 16,
    logLevel: 24,
    logSize: 28,
    logBuf: 32,
    kernVersion: 40,
    progFlags: 44,
    progName: 48,
    progIfindex: 64,
    expectedAttachType: 68,
  });
  assertEquals(PROG_ATTACH_ATTR, {
    SIZE: 24,
    targetFd: 0,
    attachBpfFd: 4,
    attachType: 8,
    attachFlags: 12,
    replaceBpfFd: 16,
  });
  assertEquals(PROG_QUERY_ATTR, {
    SIZE: 32,
    targetFd: 0,
    attachType: 4,
    queryFlags: 8,
    attachFlags: 12,
    progIds: 16,
    progCnt: 24,
  });
  assertEquals(GET_FD_BY_ID_ATTR, { SIZE: 12, id: 0, nextId: 4, openFlags: 8 });
  assertEquals(GET_INFO_ATTR, { SIZE: 16, bpfFd: 0, infoLen: 4, info: 8 });
  assertEquals(PROG_INFO, { SIZE: 80, type: 0, id: 4, tag: 8, name: 64 });
  assertEquals(BPF_INSN_SIZE, 8);
});

Deno.test("encodeProgLoadAttr() writes every field at its offset", () => {
  const b = encodeProgLoadAttr({
    progType: 15,
    insnCnt: 13,
    insns: 0x1122334455667788n,
    license: 0x0102030405060708n,
    logLevel: 1,
    logSize: 65536,
    logBuf: 0xa0b0c0d0e0f00010n,
    name: "runts_devices",
    expectedAttachType: 6,
  });
  const v = new DataView(b.buffer);
  assertEquals(b.byteLength, 72);
  assertEquals(v.getUint32(0, true), 15);
  assertEquals(v.getUint32(4, true), 13);
  assertEquals(v.getBigUint64(8, true), 0x1122334455667788n);
  assertEquals(v.getBigUint64(16, true), 0x0102030405060708n);
  assertEquals(v.getUint32(24, true), 1);
  assertEquals(v.getUint32(28, true), 65536);
  assertEquals(v.getBigUint64(32, true), 0xa0b0c0d0e0f00010n);
  assertEquals(v.getUint32(40, true), 0);
  assertEquals(v.getUint32(44, true), 0);
  assertEquals(new TextDecoder().decode(b.subarray(48, 61)), "runts_devices");
  assertEquals([...b.subarray(61, 68)], [0, 0, 0, 0, 0, 0, 0]);
  assertEquals(v.getUint32(68, true), 6);
  for (const bad of ["sixteen_chars_xx", "has-dash", "é"]) {
    assertThrows(
      () =>
        encodeProgLoadAttr({
          progType: 15,
          insnCnt: 1,
          insns: 0n,
          license: 0n,
          logLevel: 0,
          logSize: 0,
          logBuf: 0n,
          name: bad,
          expectedAttachType: 0,
        }),
      RangeError,
      "program name",
    );
  }
});

Deno.test("encodeProgAttachAttr() and encodeProgQueryAttr() write every field at its offset", () => {
  const a = new DataView(
    encodeProgAttachAttr({ targetFd: 7, progFd: 9, attachType: 6, flags: 2 }).buffer,
  );
  assertEquals(a.byteLength, 24);
  assertEquals(
    [0, 4, 8, 12, 16, 20].map((o) => a.getUint32(o, true)),
    [7, 9, 6, 2, 0, 0],
  );
  const q = new DataView(
    encodeProgQueryAttr({ targetFd: 5, attachType: 6, ids: 0xdeadbeef00n, capacity: 64 }).buffer,
  );
  assertEquals(q.byteLength, 32);
  assertEquals(q.getUint32(0, true), 5);
  assertEquals(q.getUint32(4, true), 6);
  assertEquals(q.getUint32(8, true), 0);
  assertEquals(q.getUint32(12, true), 0);
  assertEquals(q.getBigUint64(16, true), 0xdeadbeef00n);
  assertEquals(q.getUint32(24, true), 64);
});

Deno.test("encodeInsns() packs code, registers, offset and immediate like struct bpf_insn", () => {
  const bytes = encodeInsns([
    { code: 0x61, dst: 2, src: 1, off: 4, imm: 0 }, // r2 = *(u32 *)(r1 + 4)
    { code: 0x55, dst: 4, src: 0, off: -3, imm: -2 }, // if r4 != -2 goto -3
    { code: 0x54, dst: 3, src: 0, off: 0, imm: 0xfffffffd }, // w3 &= ~2 (imm as u32)
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }, // exit
  ]);
  assertEquals(
    [...bytes],
    [
      ...[0x61, 0x12, 4, 0, 0, 0, 0, 0],
      ...[0x55, 0x04, 0xfd, 0xff, 0xfe, 0xff, 0xff, 0xff],
      ...[0x54, 0x03, 0, 0, 0xfd, 0xff, 0xff, 0xff],
      ...[0x95, 0, 0, 0, 0, 0, 0, 0],
    ],
  );
  assertEquals(decodeInsns(bytes), [
    { code: 0x61, dst: 2, src: 1, off: 4, imm: 0 },
    { code: 0x55, dst: 4, src: 0, off: -3, imm: -2 },
    { code: 0x54, dst: 3, src: 0, off: 0, imm: -3 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ]);
  assertThrows(() => encodeInsns([{ code: 0x95, dst: 11, src: 0, off: 0, imm: 0 }]), RangeError);
  assertThrows(() => encodeInsns([{ code: 0x05, dst: 0, src: 0, off: 40000, imm: 0 }]), RangeError);
  assertThrows(() => decodeInsns(new Uint8Array(12)), RangeError);
});

Deno.test("decodeProgInfo() reads type, id, tag and name of struct bpf_prog_info", () => {
  const b = new Uint8Array(80);
  const v = new DataView(b.buffer);
  v.setUint32(0, 15, true);
  v.setUint32(4, 1234, true);
  b.set([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04], 8);
  b.set(new TextEncoder().encode("runts_devices"), 64);
  assertEquals(decodeProgInfo(b), {
    type: 15,
    id: 1234,
    tag: "deadbeef01020304",
    name: "runts_devices",
  });
});

Deno.test("logTail() keeps the verifier's last non-empty lines", () => {
  const log = "0: (b7) r0 = 0\n1: (95) exit\n\nR0 !read_ok\nprocessed 2 insns\n\n";
  assertEquals(logTail(log, 2), "R0 !read_ok | processed 2 insns");
  assertEquals(logTail(""), "");
});

Deno.test({
  name: "progLoad() returns an fd for an accepted program and the verifier's words otherwise",
  ignore: !isRoot,
  fn() {
    const exit = { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 };
    const fd = progLoad({
      type: BPF_PROG_TYPE_CGROUP_DEVICE,
      insns: encodeInsns([{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 }, exit]),
      license: "Apache",
      name: "runts_test",
    });
    try {
      assert(fd > 2);
      const info = progInfo(fd);
      assertEquals(info.type, BPF_PROG_TYPE_CGROUP_DEVICE);
      assertEquals(info.name, "runts_test");
      assert(info.id > 0);
    } finally {
      closeFd(fd);
    }
    // exit with r0 never written: the verifier refuses
    const e = assertThrows(
      () =>
        progLoad({
          type: BPF_PROG_TYPE_CGROUP_DEVICE,
          insns: encodeInsns([exit]),
          license: "GPL",
          name: "runts_bad",
        }),
      BpfLoadError,
      'bpf BPF_PROG_LOAD program "runts_bad" of 1 instructions (verifier: ',
    ) as BpfLoadError;
    assertEquals(e.code, "EACCES");
    assertStringIncludes(e.message, "R0 !read_ok");
    assertStringIncludes(e.log, "R0 !read_ok");
  },
});
