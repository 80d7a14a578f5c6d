/**
 * The built-in guests of `runts debug kvm` and the machine state the VMM gives them: where each
 * image goes, the page tables, GDT and TSS of the long-mode guests, and their registers. Pure
 * data, unit-tested without /dev/kvm.
 * @module
 */
import { GUEST_IMAGES, type GuestImage } from "../../ffi/kvm_guests_x86_64.ts";
import { hexBytes } from "../../ffi/memory.ts";
import type { Regs, Segment, Sregs } from "../../ffi/structs/kvm.ts";

/** The built-in guests. */
export const GUEST_NAMES = [
  "real",
  "long",
  "syscall",
  "pio",
  "spin",
  "mmio",
  "fault",
  "badport",
  "emulfail",
] as const;
/** A built-in guest's name. */
export type GuestName = typeof GUEST_NAMES[number];

/** Guest-physical layout of the long-mode guests. */
export const LAYOUT = {
  GDT: 0x1000,
  PML4: 0x2000,
  PDPT: 0x3000,
  PD: 0x4000,
  TSS: 0x5000,
  KERNEL_STACK_TOP: 0x8000,
  USER_STACK_TOP: 0xa000,
  DATA: 0x20000,
  /** The least guest memory a long-mode guest needs. */
  MIN_MEMORY: 0x30000,
} as const;

/** GDT selectors: syscall/sysret need kernel code, kernel data, user code32, user data, code64. */
export const SELECTOR = {
  KERNEL_CODE: 0x08,
  KERNEL_DATA: 0x10,
  USER_CODE32: 0x18,
  USER_DATA: 0x20,
  USER_CODE: 0x28,
  TSS: 0x30,
} as const;

/** Bytes written into guest memory before the first entry. */
export interface MemoryWrite {
  addr: number;
  bytes: Uint8Array;
}

/** How a guest starts: memory contents, register values and the mode. */
export interface GuestSetup {
  name: GuestName;
  mode: "real" | "long";
  writes: MemoryWrite[];
  /** Registers set on top of KVM's reset values (rflags 0x2 when absent). */
  regs: Partial<Regs>;
  /** What the run should end with, for the caller's check. */
  expect: string;
}

/** Options of guestSetup(). */
export interface GuestOptions {
  /** Guest memory size (long mode: the page tables map all of it). */
  memoryBytes: number;
  /** Iterations of the pio and syscall loops. */
  count?: number;
  /** Numbers the long-mode guest sums (default 1..100). */
  numbers?: readonly bigint[];
}

function image(img: GuestImage): MemoryWrite {
  return { addr: img.load, bytes: hexBytes(img.hex) };
}

function entry(img: GuestImage, label: string): bigint {
  const off = img.labels[label];
  if (off === undefined) throw new Error(`guest image has no label ${JSON.stringify(label)}`);
  return BigInt(img.load + off);
}

/**
 * Identity-mapping page tables: PML4 → PDPT → PD of 2 MiB pages covering the first GiB, so an
 * access above guest memory reaches the VMM as MMIO rather than as a page fault.
 */
export function pageTables(): MemoryWrite[] {
  const PRESENT_RW_USER = 0x7n;
  const HUGE = 0x80n;
  const pml4 = new Uint8Array(4096);
  const pdpt = new Uint8Array(4096);
  const pd = new Uint8Array(4096);
  new DataView(pml4.buffer).setBigUint64(0, BigInt(LAYOUT.PDPT) | PRESENT_RW_USER, true);
  new DataView(pdpt.buffer).setBigUint64(0, BigInt(LAYOUT.PD) | PRESENT_RW_USER, true);
  const dv = new DataView(pd.buffer);
  for (let i = 0; i < 512; i++) {
    dv.setBigUint64(8 * i, (BigInt(i) << 21n) | PRESENT_RW_USER | HUGE, true);
  }
  return [
    { addr: LAYOUT.PML4, bytes: pml4 },
    { addr: LAYOUT.PDPT, bytes: pdpt },
    { addr: LAYOUT.PD, bytes: pd },
  ];
}

/** The GDT: null, kernel code64/data, user code32/data/code64, a 16-byte TSS descriptor. */
export function gdt(): MemoryWrite {
  const entries = [
    0n,
    0x00af9b000000ffffn, // 0x08 kernel code: 64-bit, DPL 0
    0x00cf93000000ffffn, // 0x10 kernel data
    0x00cffb000000ffffn, // 0x18 user code32 (sysret's base)
    0x00cff3000000ffffn, // 0x20 user data, DPL 3
    0x00affb000000ffffn, // 0x28 user code: 64-bit, DPL 3
  ];
  const b = new Uint8Array(8 * entries.length + 16);
  const dv = new DataView(b.buffer);
  entries.forEach((e, i) => dv.setBigUint64(8 * i, e, true));
  // 0x30: available 64-bit TSS (type 9), present, limit 0x67, base LAYOUT.TSS.
  const base = BigInt(LAYOUT.TSS);
  const low = 0x67n | ((base & 0xffffffn) << 16n) | (0x89n << 40n) | ((base >> 24n) & 0xffn) << 56n;
  dv.setBigUint64(SELECTOR.TSS, low, true);
  dv.setBigUint64(SELECTOR.TSS + 8, base >> 32n, true);
  return { addr: LAYOUT.GDT, bytes: b };
}

function seg(selector: number, type: number, code: boolean): Segment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type,
    present: 1,
    dpl: 0,
    db: code ? 0 : 1,
    s: 1,
    l: code ? 1 : 0,
    g: 1,
    avl: 0,
    unusable: 0,
  };
}

/** Special registers for 64-bit ring 0 with paging on (from KVM's reset values `s`). */
export function longModeSregs(s: Sregs): Sregs {
  const data = seg(SELECTOR.KERNEL_DATA, 3, false);
  return {
    ...s,
    cs: seg(SELECTOR.KERNEL_CODE, 11, true),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    tr: {
      base: BigInt(LAYOUT.TSS),
      limit: 0x67,
      selector: SELECTOR.TSS,
      type: 11, // busy 64-bit TSS
      present: 1,
      dpl: 0,
      db: 0,
      s: 0,
      l: 0,
      g: 0,
      avl: 0,
      unusable: 0,
    },
    gdt: { base: BigInt(LAYOUT.GDT), limit: SELECTOR.TSS + 16 - 1 },
    idt: { base: 0n, limit: 0 },
    cr0: 0x80050033n, // PG AM WP NE ET MP PE
    cr3: BigInt(LAYOUT.PML4),
    cr4: 0x620n, // OSXMMEXCPT OSFXSR PAE
    efer: 0x501n, // LMA LME SCE
  };
}

/** Special registers for real mode at CS = DS = 0 (from KVM's reset values `s`). */
export function realModeSregs(s: Sregs): Sregs {
  const z = (r: Segment): Segment => ({ ...r, base: 0n, selector: 0 });
  return { ...s, cs: z(s.cs), ds: z(s.ds), es: z(s.es), ss: z(s.ss) };
}

/** The numbers the long-mode guest sums by default: 1..100 (sum 5050, status 5050 & 0xff). */
export const DEFAULT_NUMBERS: readonly bigint[] = Array.from(
  { length: 100 },
  (_, i) => BigInt(i + 1),
);

/** The data block the long-mode guest reads: u64 count, then the values. */
export function numbersBlock(numbers: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(8 * (numbers.length + 1));
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, BigInt(numbers.length), true);
  numbers.forEach((n, i) => dv.setBigUint64(8 * (i + 1), BigInt.asUintN(64, n), true));
  return b;
}

/** The setup of a built-in guest. */
export function guestSetup(name: GuestName, o: GuestOptions): GuestSetup {
  const count = BigInt(o.count ?? 1000);
  const real = GUEST_IMAGES.real;
  switch (name) {
    case "real":
      return {
        name,
        mode: "real",
        writes: [image(real)],
        regs: { rip: entry(real, "hello") },
        expect: 'HLT, output "hello from real mode\\n"',
      };
    case "spin":
      return {
        name,
        mode: "real",
        writes: [image(real)],
        regs: { rip: entry(real, "spin") },
        expect: "stopped by the timeout",
      };
    case "pio":
      return {
        name,
        mode: "real",
        writes: [image(real)],
        regs: { rip: entry(real, "pio_loop"), rcx: count },
        expect: `${count} writes to port 0xf6, then HLT`,
      };
  }
  if (o.memoryBytes < LAYOUT.MIN_MEMORY) {
    throw new Error(
      `kvm: guest "${name}" needs at least ${LAYOUT.MIN_MEMORY} bytes of memory, not ${o.memoryBytes}`,
    );
  }
  const tables = [...pageTables(), gdt()];
  const long = GUEST_IMAGES.long;
  const errorGuest = (label: string, expect: string): GuestSetup => ({
    name,
    mode: "long",
    writes: [...tables, image(long)],
    regs: { rip: entry(long, label), rsp: BigInt(LAYOUT.KERNEL_STACK_TOP) },
    expect,
  });
  if (name === "mmio") return errorGuest("mmio", "MMIO exit error (write to 0x3ff000)");
  if (name === "fault") return errorGuest("fault", "SHUTDOWN exit error (triple fault)");
  if (name === "badport") return errorGuest("badport", "port I/O exit error (port 0x80)");
  if (name === "emulfail") {
    return errorGuest(
      "emulfail",
      "INTERNAL_ERROR exit error (emulation failure) where ring 0 is emulated",
    );
  }
  if (name === "long") {
    const img = GUEST_IMAGES.long;
    const numbers = o.numbers ?? DEFAULT_NUMBERS;
    const sum = numbers.reduce((a, b) => a + b, 0n);
    return {
      name,
      mode: "long",
      writes: [...tables, image(img), { addr: LAYOUT.DATA, bytes: numbersBlock(numbers) }],
      regs: {
        rip: entry(img, "start"),
        rsi: BigInt(LAYOUT.DATA),
        rsp: BigInt(LAYOUT.KERNEL_STACK_TOP),
      },
      expect: `exit status ${sum & 0xffn}, output with the sum ${sum}`,
    };
  }
  const img = GUEST_IMAGES.syscall;
  return {
    name,
    mode: "long",
    writes: [...tables, image(img)],
    regs: {
      rip: entry(img, "start"),
      rsp: BigInt(LAYOUT.KERNEL_STACK_TOP),
      rbx: BigInt(LAYOUT.USER_STACK_TOP),
      r12: count,
    },
    expect: `write, ${count} getpid answered 1, exit_group(42)`,
  };
}
