import { assertEquals } from "../../tests/assert.ts";
import {
  CPUID_ENTRY2,
  decodeCpuid2,
  decodeRegs,
  decodeSregs,
  encodeCpuid2,
  encodeMemoryRegion,
  encodeRegs,
  encodeSregs,
  MEMORY_REGION,
  REG_NAMES,
  regOffset,
  type Regs,
  REGS_SIZE,
  RUN,
  RUN_IO,
  RUN_MMIO,
  SEGMENT,
  SREGS,
} from "./kvm.ts";
import { KVM } from "../kvm.ts";

Deno.test("kvm structs: sizes and offsets are linux/kvm.h's on x86_64", () => {
  assertEquals(MEMORY_REGION.SIZE, 32);
  assertEquals(MEMORY_REGION.userspaceAddr, 24);
  assertEquals(REGS_SIZE, 144);
  assertEquals(regOffset("rip"), 128);
  assertEquals(regOffset("rflags"), 136);
  assertEquals(regOffset("r10"), 80);
  assertEquals(SEGMENT.SIZE, 24);
  assertEquals(SEGMENT.unusable, 22);
  assertEquals(SREGS.SIZE, 312);
  assertEquals([SREGS.tr, SREGS.gdt, SREGS.idt, SREGS.cr0, SREGS.efer], [144, 192, 208, 224, 264]);
  assertEquals(SREGS.interruptBitmap, 280);
  assertEquals([RUN.immediateExit, RUN.exitReason, RUN.exit, RUN.kvmValidRegs], [1, 8, 32, 288]);
  assertEquals([RUN.kvmDirtyRegs, RUN.syncRegs, RUN.SIZE], [296, 304, 304 + 2048]);
  assertEquals([RUN_IO.direction, RUN_IO.port, RUN_IO.dataOffset], [32, 34, 40]);
  assertEquals([RUN_MMIO.physAddr, RUN_MMIO.data, RUN_MMIO.len, RUN_MMIO.isWrite], [
    32,
    40,
    48,
    52,
  ]);
  assertEquals(CPUID_ENTRY2.SIZE, 40);
});

Deno.test("kvm ioctl numbers are linux/kvm.h's", () => {
  assertEquals(KVM.GET_API_VERSION, 0xae00);
  assertEquals(KVM.CREATE_VM, 0xae01);
  assertEquals(KVM.RUN, 0xae80);
  assertEquals(KVM.GET_REGS, 0x8090ae81);
  assertEquals(KVM.SET_REGS, 0x4090ae82);
  assertEquals(KVM.GET_SREGS, 0x8138ae83);
  assertEquals(KVM.SET_SREGS, 0x4138ae84);
  assertEquals(KVM.SET_USER_MEMORY_REGION, 0x4020ae46);
  assertEquals(KVM.GET_SUPPORTED_CPUID, 0xc008ae05);
  assertEquals(KVM.SET_CPUID2, 0x4008ae90);
});

Deno.test("encodeMemoryRegion() writes each field at its offset", () => {
  const b = encodeMemoryRegion({
    slot: 2,
    flags: 1,
    guestPhysAddr: 0x1000n,
    memorySize: 0x20000n,
    userspaceAddr: 0x7f0000000000n,
  });
  const dv = new DataView(b.buffer);
  assertEquals(dv.getUint32(0, true), 2);
  assertEquals(dv.getUint32(4, true), 1);
  assertEquals(dv.getBigUint64(8, true), 0x1000n);
  assertEquals(dv.getBigUint64(16, true), 0x20000n);
  assertEquals(dv.getBigUint64(24, true), 0x7f0000000000n);
});

Deno.test("encodeRegs()/decodeRegs() round-trip in kvm_regs order", () => {
  const r = Object.fromEntries(REG_NAMES.map((n, i) => [n, BigInt(i + 1) << 8n])) as Regs;
  const b = encodeRegs(r);
  assertEquals(new DataView(b.buffer).getBigUint64(128, true), 17n << 8n); // rip
  assertEquals(decodeRegs(b), r);
});

Deno.test("encodeSregs()/decodeSregs() round-trip", () => {
  const b = new Uint8Array(SREGS.SIZE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7) & 0xff;
  // padding bytes are not kept: zero them for the comparison
  for (let s = 0; s < 8; s++) b[s * 24 + 23] = 0;
  for (const o of [SREGS.gdt, SREGS.idt]) b.fill(0, o + 10, o + 16);
  assertEquals(encodeSregs(decodeSregs(b)), b);
});

Deno.test("encodeCpuid2()/decodeCpuid2() round-trip", () => {
  const e = [{ function: 1, index: 0, flags: 0, eax: 1, ebx: 2, ecx: 3, edx: 0xffffffff }];
  assertEquals(decodeCpuid2(encodeCpuid2(e)), e);
});
