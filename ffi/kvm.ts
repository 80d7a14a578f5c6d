/**
 * KVM's ioctl interface (linux/kvm.h, x86_64): request numbers, capability and exit numbers,
 * and the native memory the VMM shares with the kernel (guest memory in a memfd, each vCPU's
 * `kvm_run` page). Struct layouts are in ffi/structs/kvm.ts.
 *
 * Calls go through raw_syscall, so the result is `-errno` on failure: KVM_RUN, which blocks,
 * can run synchronously on a Worker's thread with no thread-local errno to read.
 * @module
 */
import { libc } from "./libc.ts";
import { SyscallError } from "./error.ts";
import { SYS } from "./sysno_x86_64.ts";
import { type Arg, cstr, rawSyscall, sys } from "./syscall.ts";
import { CPUID2, MEMORY_REGION, REGS_SIZE, SREGS } from "./structs/kvm.ts";
import { KERNEL_SIGACTION_SIZE } from "./structs/kernel.ts";
import { GUEST_IMAGES } from "./kvm_guests_x86_64.ts";
import { hexBytes, Region } from "./memory.ts";

const KVMIO = 0xae;
const IOC_WRITE = 1;
const IOC_READ = 2;

function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
}

/** KVM ioctl request numbers (_IO/_IOR/_IOW/_IOWR over KVMIO = 0xAE). */
export const KVM = {
  /** _IO(KVMIO, 0x00) on /dev/kvm: the API version, 12. */
  GET_API_VERSION: ioc(0, 0x00, 0),
  /** _IO(KVMIO, 0x01) on /dev/kvm: a new VM fd. */
  CREATE_VM: ioc(0, 0x01, 0),
  /** _IO(KVMIO, 0x03) on /dev/kvm or a VM: > 0 when the capability is present. */
  CHECK_EXTENSION: ioc(0, 0x03, 0),
  /** _IO(KVMIO, 0x04) on /dev/kvm: the size of a vCPU's kvm_run mapping. */
  GET_VCPU_MMAP_SIZE: ioc(0, 0x04, 0),
  /** _IOWR(KVMIO, 0x05, struct kvm_cpuid2) on /dev/kvm. */
  GET_SUPPORTED_CPUID: ioc(IOC_READ | IOC_WRITE, 0x05, CPUID2.HEADER),
  /** _IO(KVMIO, 0x41) on a VM: a new vCPU fd. */
  CREATE_VCPU: ioc(0, 0x41, 0),
  /** _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region) on a VM. */
  SET_USER_MEMORY_REGION: ioc(IOC_WRITE, 0x46, MEMORY_REGION.SIZE),
  /** _IO(KVMIO, 0x47) on a VM: three pages for the TSS (VT-x real mode). */
  SET_TSS_ADDR: ioc(0, 0x47, 0),
  /** _IO(KVMIO, 0x80) on a vCPU: runs it until an exit. */
  RUN: ioc(0, 0x80, 0),
  /** _IOR(KVMIO, 0x81, struct kvm_regs) */
  GET_REGS: ioc(IOC_READ, 0x81, REGS_SIZE),
  /** _IOW(KVMIO, 0x82, struct kvm_regs) */
  SET_REGS: ioc(IOC_WRITE, 0x82, REGS_SIZE),
  /** _IOR(KVMIO, 0x83, struct kvm_sregs) */
  GET_SREGS: ioc(IOC_READ, 0x83, SREGS.SIZE),
  /** _IOW(KVMIO, 0x84, struct kvm_sregs) */
  SET_SREGS: ioc(IOC_WRITE, 0x84, SREGS.SIZE),
  /** _IOW(KVMIO, 0x90, struct kvm_cpuid2) */
  SET_CPUID2: ioc(IOC_WRITE, 0x90, CPUID2.HEADER),
} as const;

/** The API version every KVM since Linux 2.6.22 reports. */
export const KVM_API_VERSION = 12;

/** Capability numbers (KVM_CAP_*) runts asks about. */
export const KVM_CAP = {
  IRQCHIP: 0,
  HLT: 1,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  EXT_CPUID: 7,
  NR_VCPUS: 9,
  NR_MEMSLOTS: 10,
  SYNC_MMU: 16,
  MAX_VCPUS: 66,
  SYNC_REGS: 74,
  IMMEDIATE_EXIT: 136,
} as const;

/** A capability name (a key of KVM_CAP). */
export type KvmCapName = keyof typeof KVM_CAP;

/** Exit reasons in kvm_run.exit_reason (KVM_EXIT_*). */
export const KVM_EXIT = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
} as const;

/** The name of an exit reason ("IO", "HLT", ...), or its number. */
export function exitName(reason: number): string {
  for (const [k, v] of Object.entries(KVM_EXIT)) if (v === reason) return k;
  return String(reason);
}

/** Bits of kvm_run.kvm_valid_regs/kvm_dirty_regs (KVM_SYNC_X86_*). */
export const KVM_SYNC_X86 = { REGS: 1, SREGS: 2, EVENTS: 4 } as const;

/** kvm_run.io.direction */
export const KVM_EXIT_IO_IN = 0;
/** kvm_run.io.direction */
export const KVM_EXIT_IO_OUT = 1;

/** An ioctl; the kernel's result unchanged (`-errno` on failure). */
export function ioctlRaw(fd: number, request: number, arg: Arg = 0): number {
  return rawSyscall(SYS.ioctl, fd, request, arg);
}

/** An ioctl that throws `ioctl <name>: <errno>` on failure. */
export function ioctl(name: string, fd: number, request: number, arg: Arg = 0): number {
  return sys("ioctl", name, SYS.ioctl, fd, request, arg);
}

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 0x01;

/** Native memory mapped from an fd, shared with the kernel (guest memory, kvm_run). */
export class SharedMapping {
  /** Start address. */
  readonly addr: bigint;
  /** Length in bytes. */
  readonly size: number;
  /** Read/write view of the mapping; invalid after unmap(). */
  readonly bytes: Uint8Array;
  #ptr: Deno.PointerObject | null;

  private constructor(ptr: Deno.PointerObject, size: number) {
    this.#ptr = ptr;
    this.addr = BigInt(Deno.UnsafePointer.value(ptr));
    this.size = size;
    this.bytes = new Uint8Array(new Deno.UnsafePointerView(ptr).getArrayBuffer(size));
  }

  /** mmap(NULL, size, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0); `what` names it in errors. */
  static map(fd: number, size: number, what: string): SharedMapping {
    const p = libc().mmap(null, BigInt(size), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0n);
    const v = p === null ? -1n : BigInt(Deno.UnsafePointer.value(p));
    if (p === null || v === -1n || v === 0xffffffffffffffffn) {
      throw new Error(`mmap of ${what} (${size} bytes) failed`);
    }
    return new SharedMapping(p, size);
  }

  /** Unmaps it (once). */
  unmap(): void {
    if (this.#ptr === null) return;
    libc().munmap(this.#ptr, BigInt(this.size));
    this.#ptr = null;
  }
}

/**
 * A byte view of native memory mapped elsewhere in this process (by another thread's
 * SharedMapping): how a vCPU Worker sees guest memory and its kvm_run page.
 */
export function viewAt(addr: bigint, size: number): Uint8Array {
  const p = Deno.UnsafePointer.create(addr);
  if (p === null) throw new Error("viewAt: null address");
  return new Uint8Array(new Deno.UnsafePointerView(p).getArrayBuffer(size));
}

/** memfd_create(name, MFD_CLOEXEC) sized to `size` bytes: the backing of guest memory. */
export function memfdOfSize(name: string, size: number): number {
  const MFD_CLOEXEC = 1;
  const fd = sys("memfd_create", JSON.stringify(name), SYS.memfd_create, cstr(name), MFD_CLOEXEC);
  const r = rawSyscall(SYS.ftruncate, fd, size);
  if (r < 0) {
    rawSyscall(SYS.close, fd);
    throw new SyscallError("ftruncate", -r, `${JSON.stringify(name)} to ${size} bytes`);
  }
  return fd;
}

/** The calling thread's id. */
export function gettid(): number {
  return rawSyscall(SYS.gettid);
}

/** tgkill(tgid, tid, sig); false when the thread is gone. */
export function tgkill(tgid: number, tid: number, sig: number): boolean {
  return rawSyscall(SYS.tgkill, tgid, tid, sig) === 0;
}

let stopHandlerFor = -1;

/**
 * Installs (once per process) the do-nothing handler of ffi/asm/kvm_signal.S for `signo`, so
 * that the signal interrupts KVM_RUN on the thread it is sent to without ending the process.
 * Installed with rt_sigaction directly: Deno's signal listeners are per runtime and their
 * handler may be gone while a vCPU thread is still being stopped.
 */
export function installStopHandler(signo: number): void {
  if (stopHandlerFor === signo) return;
  if (stopHandlerFor !== -1) throw new Error(`kvm: stop handler already set for ${stopHandlerFor}`);
  const img = GUEST_IMAGES.signal;
  const page = new Region(4096);
  page.bytes.set(hexBytes(img.hex));
  page.protectExec();
  const SA_RESTORER = 0x04000000;
  const act = new Uint8Array(KERNEL_SIGACTION_SIZE);
  const dv = new DataView(act.buffer);
  dv.setBigUint64(0, page.addr + BigInt(img.labels.handler!), true);
  dv.setBigUint64(8, BigInt(SA_RESTORER), true);
  dv.setBigUint64(16, page.addr + BigInt(img.labels.restorer!), true);
  sys("rt_sigaction", `signal ${signo}`, SYS.rt_sigaction, signo, act, null, 8);
  stopHandlerFor = signo;
}
