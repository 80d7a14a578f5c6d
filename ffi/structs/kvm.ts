/**
 * KVM's x86_64 structs (linux/kvm.h, asm/kvm.h): sizes, field offsets and codecs over a
 * DataView. The layouts are x86_64 only: KVM's register structs are per architecture.
 * @module
 */

/** struct kvm_userspace_memory_region { u32 slot, flags; u64 guest_phys_addr, memory_size, userspace_addr; } */
export const MEMORY_REGION = {
  SIZE: 32,
  slot: 0,
  flags: 4,
  guestPhysAddr: 8,
  memorySize: 16,
  userspaceAddr: 24,
} as const;

/** A memory slot. */
export interface MemoryRegion {
  slot: number;
  flags: number;
  guestPhysAddr: bigint;
  memorySize: bigint;
  userspaceAddr: bigint;
}

/** Encodes a struct kvm_userspace_memory_region. */
export function encodeMemoryRegion(r: MemoryRegion): Uint8Array {
  const b = new Uint8Array(MEMORY_REGION.SIZE);
  const dv = new DataView(b.buffer);
  dv.setUint32(MEMORY_REGION.slot, r.slot, true);
  dv.setUint32(MEMORY_REGION.flags, r.flags, true);
  dv.setBigUint64(MEMORY_REGION.guestPhysAddr, r.guestPhysAddr, true);
  dv.setBigUint64(MEMORY_REGION.memorySize, r.memorySize, true);
  dv.setBigUint64(MEMORY_REGION.userspaceAddr, r.userspaceAddr, true);
  return b;
}

/** The general registers of struct kvm_regs, in order (18 × u64 = 144 bytes). */
export const REG_NAMES = [
  "rax",
  "rbx",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "rsp",
  "rbp",
  "r8",
  "r9",
  "r10",
  "r11",
  "r12",
  "r13",
  "r14",
  "r15",
  "rip",
  "rflags",
] as const; // deno-fmt-ignore

/** A general register name. */
export type RegName = typeof REG_NAMES[number];
/** struct kvm_regs. */
export type Regs = Record<RegName, bigint>;
/** sizeof(struct kvm_regs) */
export const REGS_SIZE = 144;
/** Offset of a register in struct kvm_regs. */
export function regOffset(name: RegName): number {
  return 8 * REG_NAMES.indexOf(name);
}

/** Decodes a struct kvm_regs. */
export function decodeRegs(b: Uint8Array): Regs {
  const dv = new DataView(b.buffer, b.byteOffset, REGS_SIZE);
  const r = {} as Regs;
  REG_NAMES.forEach((n, i) => (r[n] = dv.getBigUint64(8 * i, true)));
  return r;
}

/** Encodes a struct kvm_regs. */
export function encodeRegs(r: Regs): Uint8Array {
  const b = new Uint8Array(REGS_SIZE);
  const dv = new DataView(b.buffer);
  REG_NAMES.forEach((n, i) => dv.setBigUint64(8 * i, BigInt.asUintN(64, r[n]), true));
  return b;
}

/**
 * struct kvm_segment { u64 base; u32 limit; u16 selector; u8 type, present, dpl, db, s, l, g,
 * avl, unusable, padding; } (24 bytes).
 */
export const SEGMENT = {
  SIZE: 24,
  base: 0,
  limit: 8,
  selector: 12,
  type: 14,
  present: 15,
  dpl: 16,
  db: 17,
  s: 18,
  l: 19,
  g: 20,
  avl: 21,
  unusable: 22,
} as const;

/** A segment register. */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable { u64 base; u16 limit; u16 padding[3]; } (16 bytes). */
export const DTABLE = { SIZE: 16, base: 0, limit: 8 } as const;

/** A descriptor table register (GDTR, IDTR). */
export interface Dtable {
  base: bigint;
  limit: number;
}

/** The segment registers of struct kvm_sregs, in order. */
export const SEGMENT_NAMES = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;
/** A segment register name. */
export type SegmentName = typeof SEGMENT_NAMES[number];

/**
 * struct kvm_sregs: 8 segments (192), gdt, idt (32), cr0, cr2, cr3, cr4, cr8, efer, apic_base
 * (56), interrupt_bitmap[4] (32) = 312 bytes.
 */
export const SREGS = {
  SIZE: 312,
  cs: 0,
  ds: 24,
  es: 48,
  fs: 72,
  gs: 96,
  ss: 120,
  tr: 144,
  ldt: 168,
  gdt: 192,
  idt: 208,
  cr0: 224,
  cr2: 232,
  cr3: 240,
  cr4: 248,
  cr8: 256,
  efer: 264,
  apicBase: 272,
  interruptBitmap: 280,
} as const;

/** struct kvm_sregs (the interrupt bitmap is kept as it was read). */
export interface Sregs extends Record<SegmentName, Segment> {
  gdt: Dtable;
  idt: Dtable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  interruptBitmap: Uint8Array;
}

function getSegment(dv: DataView, o: number): Segment {
  return {
    base: dv.getBigUint64(o + SEGMENT.base, true),
    limit: dv.getUint32(o + SEGMENT.limit, true),
    selector: dv.getUint16(o + SEGMENT.selector, true),
    type: dv.getUint8(o + SEGMENT.type),
    present: dv.getUint8(o + SEGMENT.present),
    dpl: dv.getUint8(o + SEGMENT.dpl),
    db: dv.getUint8(o + SEGMENT.db),
    s: dv.getUint8(o + SEGMENT.s),
    l: dv.getUint8(o + SEGMENT.l),
    g: dv.getUint8(o + SEGMENT.g),
    avl: dv.getUint8(o + SEGMENT.avl),
    unusable: dv.getUint8(o + SEGMENT.unusable),
  };
}

function setSegment(dv: DataView, o: number, s: Segment): void {
  dv.setBigUint64(o + SEGMENT.base, s.base, true);
  dv.setUint32(o + SEGMENT.limit, s.limit >>> 0, true);
  dv.setUint16(o + SEGMENT.selector, s.selector, true);
  dv.setUint8(o + SEGMENT.type, s.type);
  dv.setUint8(o + SEGMENT.present, s.present);
  dv.setUint8(o + SEGMENT.dpl, s.dpl);
  dv.setUint8(o + SEGMENT.db, s.db);
  dv.setUint8(o + SEGMENT.s, s.s);
  dv.setUint8(o + SEGMENT.l, s.l);
  dv.setUint8(o + SEGMENT.g, s.g);
  dv.setUint8(o + SEGMENT.avl, s.avl);
  dv.setUint8(o + SEGMENT.unusable, s.unusable);
}

/** Decodes a struct kvm_sregs. */
export function decodeSregs(b: Uint8Array): Sregs {
  const dv = new DataView(b.buffer, b.byteOffset, SREGS.SIZE);
  const seg = (n: SegmentName) => getSegment(dv, SREGS[n]);
  const dt = (o: number): Dtable => ({
    base: dv.getBigUint64(o, true),
    limit: dv.getUint16(o + DTABLE.limit, true),
  });
  return {
    cs: seg("cs"),
    ds: seg("ds"),
    es: seg("es"),
    fs: seg("fs"),
    gs: seg("gs"),
    ss: seg("ss"),
    tr: seg("tr"),
    ldt: seg("ldt"),
    gdt: dt(SREGS.gdt),
    idt: dt(SREGS.idt),
    cr0: dv.getBigUint64(SREGS.cr0, true),
    cr2: dv.getBigUint64(SREGS.cr2, true),
    cr3: dv.getBigUint64(SREGS.cr3, true),
    cr4: dv.getBigUint64(SREGS.cr4, true),
    cr8: dv.getBigUint64(SREGS.cr8, true),
    efer: dv.getBigUint64(SREGS.efer, true),
    apicBase: dv.getBigUint64(SREGS.apicBase, true),
    interruptBitmap: b.slice(SREGS.interruptBitmap, SREGS.SIZE),
  };
}

/** Encodes a struct kvm_sregs. */
export function encodeSregs(s: Sregs): Uint8Array {
  const b = new Uint8Array(SREGS.SIZE);
  const dv = new DataView(b.buffer);
  for (const n of SEGMENT_NAMES) setSegment(dv, SREGS[n], s[n]);
  for (const [o, t] of [[SREGS.gdt, s.gdt], [SREGS.idt, s.idt]] as const) {
    dv.setBigUint64(o, t.base, true);
    dv.setUint16(o + DTABLE.limit, t.limit, true);
  }
  dv.setBigUint64(SREGS.cr0, s.cr0, true);
  dv.setBigUint64(SREGS.cr2, s.cr2, true);
  dv.setBigUint64(SREGS.cr3, s.cr3, true);
  dv.setBigUint64(SREGS.cr4, s.cr4, true);
  dv.setBigUint64(SREGS.cr8, s.cr8, true);
  dv.setBigUint64(SREGS.efer, s.efer, true);
  dv.setBigUint64(SREGS.apicBase, s.apicBase, true);
  b.set(s.interruptBitmap.subarray(0, 32), SREGS.interruptBitmap);
  return b;
}

/**
 * struct kvm_run (the vCPU's shared page): the fixed header, then a 256-byte union of exit
 * details at 32, then kvm_valid_regs/kvm_dirty_regs and the sync-regs union.
 */
export const RUN = {
  requestInterruptWindow: 0,
  immediateExit: 1,
  exitReason: 8,
  readyForInterruptInjection: 12,
  ifFlag: 13,
  flags: 14,
  cr8: 16,
  apicBase: 24,
  /** The exit union. */
  exit: 32,
  kvmValidRegs: 288,
  kvmDirtyRegs: 296,
  /** s.regs (struct kvm_sync_regs): kvm_regs, then kvm_sregs at +REGS_SIZE, then the events. */
  syncRegs: 304,
  /** Minimum size of the header plus unions (the mapping is KVM_GET_VCPU_MMAP_SIZE). */
  SIZE: 2352,
} as const;

/** run.io: { u8 direction; u8 size; u16 port; u32 count; u64 data_offset; } at RUN.exit. */
export const RUN_IO = { direction: 32, size: 33, port: 34, count: 36, dataOffset: 40 } as const;
/** run.mmio: { u64 phys_addr; u8 data[8]; u32 len; u8 is_write; } at RUN.exit. */
export const RUN_MMIO = { physAddr: 32, data: 40, len: 48, isWrite: 52 } as const;
/** run.fail_entry: { u64 hardware_entry_failure_reason; u32 cpu; } at RUN.exit. */
export const RUN_FAIL_ENTRY = { reason: 32, cpu: 40 } as const;
/** run.internal: { u32 suberror; u32 ndata; u64 data[16]; } at RUN.exit. */
export const RUN_INTERNAL = { suberror: 32, ndata: 36, data: 40 } as const;
/** run.system_event: { u32 type; u32 ndata; u64 data[16]; } at RUN.exit. */
export const RUN_SYSTEM_EVENT = { type: 32, ndata: 36 } as const;

/** struct kvm_cpuid2 { u32 nent; u32 padding; struct kvm_cpuid_entry2 entries[]; } */
export const CPUID2 = { HEADER: 8, nent: 0 } as const;
/**
 * struct kvm_cpuid_entry2 { u32 function, index, flags, eax, ebx, ecx, edx; u32 padding[3]; }
 * (40 bytes).
 */
export const CPUID_ENTRY2 = {
  SIZE: 40,
  function: 0,
  index: 4,
  flags: 8,
  eax: 12,
  ebx: 16,
  ecx: 20,
  edx: 24,
} as const;

/** One CPUID leaf as KVM reports it. */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** A struct kvm_cpuid2 buffer with room for `max` entries. */
export function cpuid2Buffer(max: number): Uint8Array {
  const b = new Uint8Array(CPUID2.HEADER + max * CPUID_ENTRY2.SIZE);
  new DataView(b.buffer).setUint32(CPUID2.nent, max, true);
  return b;
}

/** Decodes the entries of a struct kvm_cpuid2. */
export function decodeCpuid2(b: Uint8Array): CpuidEntry[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = dv.getUint32(CPUID2.nent, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = CPUID2.HEADER + i * CPUID_ENTRY2.SIZE;
    out.push({
      function: dv.getUint32(o + CPUID_ENTRY2.function, true),
      index: dv.getUint32(o + CPUID_ENTRY2.index, true),
      flags: dv.getUint32(o + CPUID_ENTRY2.flags, true),
      eax: dv.getUint32(o + CPUID_ENTRY2.eax, true),
      ebx: dv.getUint32(o + CPUID_ENTRY2.ebx, true),
      ecx: dv.getUint32(o + CPUID_ENTRY2.ecx, true),
      edx: dv.getUint32(o + CPUID_ENTRY2.edx, true),
    });
  }
  return out;
}

/** Encodes entries as a struct kvm_cpuid2. */
export function encodeCpuid2(entries: readonly CpuidEntry[]): Uint8Array {
  const b = cpuid2Buffer(entries.length);
  const dv = new DataView(b.buffer);
  entries.forEach((e, i) => {
    const o = CPUID2.HEADER + i * CPUID_ENTRY2.SIZE;
    dv.setUint32(o + CPUID_ENTRY2.function, e.function, true);
    dv.setUint32(o + CPUID_ENTRY2.index, e.index, true);
    dv.setUint32(o + CPUID_ENTRY2.flags, e.flags, true);
    dv.setUint32(o + CPUID_ENTRY2.eax, e.eax >>> 0, true);
    dv.setUint32(o + CPUID_ENTRY2.ebx, e.ebx >>> 0, true);
    dv.setUint32(o + CPUID_ENTRY2.ecx, e.ecx >>> 0, true);
    dv.setUint32(o + CPUID_ENTRY2.edx, e.edx >>> 0, true);
  });
  return b;
}
