/**
 * A KVM virtual machine in the sandbox process: the VM fd, guest memory in a memfd mapped
 * into the process (so it can later be shared), one memory slot, vCPUs with their kvm_run
 * mapping, registers and CPUID. Everything it opens is closed by close().
 * @module
 */
import { E } from "../linux/consts.ts";
import { ioctl, ioctlRaw, KVM, memfdOfSize, SharedMapping } from "../../ffi/kvm.ts";
import { closeFd } from "../../ffi/process.ts";
import { SyscallError } from "../../ffi/error.ts";
import {
  cpuid2Buffer,
  type CpuidEntry,
  decodeCpuid2,
  decodeRegs,
  decodeSregs,
  encodeCpuid2,
  encodeMemoryRegion,
  encodeRegs,
  encodeSregs,
  type Regs,
  REGS_SIZE,
  SREGS,
  type Sregs,
} from "../../ffi/structs/kvm.ts";

/** Upper bound of guest memory runts gives a VM. */
export const MAX_GUEST_MEMORY = 256 << 20;
/** Guest memory is whole pages. */
export const PAGE_SIZE = 4096;

/** Checks a guest memory size: whole pages, at least one, at most MAX_GUEST_MEMORY. */
export function checkMemorySize(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % PAGE_SIZE !== 0) {
    throw new Error(`kvm: guest memory of ${bytes} bytes: must be a positive multiple of 4096`);
  }
  if (bytes > MAX_GUEST_MEMORY) {
    throw new Error(
      `kvm: guest memory of ${bytes} bytes: more than the cap of ${MAX_GUEST_MEMORY} bytes`,
    );
  }
}

/** A vCPU: its fd and its kvm_run page. */
export class Vcpu {
  /** The vCPU fd. */
  readonly fd: number;
  /** The kvm_run mapping. */
  readonly run: SharedMapping;

  constructor(fd: number, run: SharedMapping) {
    this.fd = fd;
    this.run = run;
  }

  /** KVM_GET_REGS */
  getRegs(): Regs {
    const b = new Uint8Array(REGS_SIZE);
    ioctl("KVM_GET_REGS", this.fd, KVM.GET_REGS, b);
    return decodeRegs(b);
  }

  /** KVM_SET_REGS */
  setRegs(r: Regs): void {
    ioctl("KVM_SET_REGS", this.fd, KVM.SET_REGS, encodeRegs(r));
  }

  /** KVM_GET_SREGS */
  getSregs(): Sregs {
    const b = new Uint8Array(SREGS.SIZE);
    ioctl("KVM_GET_SREGS", this.fd, KVM.GET_SREGS, b);
    return decodeSregs(b);
  }

  /**
   * KVM_SET_SREGS. KVM checks the control registers here (the state at the next entry): a
   * combination no CPU can enter (paging without protection, long mode without PAE, a reserved
   * bit, ...) is EINVAL, reported with the values it refused.
   */
  setSregs(s: Sregs): void {
    const r = ioctlRaw(this.fd, KVM.SET_SREGS, encodeSregs(s));
    if (r === -E.EINVAL) throw new Error(sregsRefusal(s));
    if (r < 0) throw new SyscallError("ioctl", -r, "KVM_SET_SREGS");
  }

  /** KVM_SET_CPUID2 */
  setCpuid(entries: readonly CpuidEntry[]): void {
    ioctl("KVM_SET_CPUID2", this.fd, KVM.SET_CPUID2, encodeCpuid2(entries));
  }
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The error of KVM_SET_SREGS refusing `s` with EINVAL. Pure, for tests. */
export function sregsRefusal(s: Sregs): string {
  return `kvm: KVM_SET_SREGS: EINVAL: KVM refused the vCPU's special registers as a state it ` +
    `cannot enter (cr0 ${hex(s.cr0)}, cr3 ${hex(s.cr3)}, cr4 ${hex(s.cr4)}, efer ${
      hex(s.efer)
    }, apic base ${hex(s.apicBase)})`;
}

/** KVM_GET_SUPPORTED_CPUID on /dev/kvm: the leaves a vCPU may be given. */
export function supportedCpuid(kvmFd: number): CpuidEntry[] {
  for (let max = 64; max <= 1024; max *= 2) {
    const b = cpuid2Buffer(max);
    const r = ioctlRaw(kvmFd, KVM.GET_SUPPORTED_CPUID, b);
    if (r === -7) continue; // E2BIG: more entries than room
    if (r < 0) ioctl("KVM_GET_SUPPORTED_CPUID", kvmFd, KVM.GET_SUPPORTED_CPUID, b); // throws
    return decodeCpuid2(b);
  }
  throw new Error("kvm: KVM_GET_SUPPORTED_CPUID: more than 1024 entries");
}

/** A VM with guest memory at guest-physical 0. */
export class Vm {
  /** The VM fd. */
  readonly fd: number;
  /** The memfd behind guest memory. */
  readonly memFd: number;
  /** Guest memory, mapped into this process. */
  readonly memory: SharedMapping;
  /** The vCPUs created so far. */
  readonly vcpus: Vcpu[] = [];
  #kvmFd: number;
  #closed = false;

  private constructor(kvmFd: number, fd: number, memFd: number, memory: SharedMapping) {
    this.#kvmFd = kvmFd;
    this.fd = fd;
    this.memFd = memFd;
    this.memory = memory;
  }

  /**
   * Creates a VM on a checked /dev/kvm fd with `memoryBytes` of guest memory (a memfd mapped
   * here and registered as slot 0 at guest-physical 0). On failure nothing is left open.
   */
  static create(kvmFd: number, memoryBytes: number): Vm {
    checkMemorySize(memoryBytes);
    const opened: number[] = [];
    let memory: SharedMapping | undefined;
    try {
      const fd = ioctl("KVM_CREATE_VM", kvmFd, KVM.CREATE_VM, 0);
      opened.push(fd);
      const memFd = memfdOfSize("runts-guest-memory", memoryBytes);
      opened.push(memFd);
      memory = SharedMapping.map(memFd, memoryBytes, "guest memory");
      ioctl(
        "KVM_SET_USER_MEMORY_REGION",
        fd,
        KVM.SET_USER_MEMORY_REGION,
        encodeMemoryRegion({
          slot: 0,
          flags: 0,
          guestPhysAddr: 0n,
          memorySize: BigInt(memoryBytes),
          userspaceAddr: memory.addr,
        }),
      );
      return new Vm(kvmFd, fd, memFd, memory);
    } catch (e) {
      memory?.unmap();
      for (const fd of opened) closeFd(fd);
      throw e;
    }
  }

  /** Creates vCPU `id` with its kvm_run mapping and the host's supported CPUID. */
  createVcpu(id: number, cpuid: readonly CpuidEntry[]): Vcpu {
    const fd = ioctl("KVM_CREATE_VCPU", this.fd, KVM.CREATE_VCPU, id);
    try {
      const size = ioctl("KVM_GET_VCPU_MMAP_SIZE", this.#kvmFd, KVM.GET_VCPU_MMAP_SIZE, 0);
      const run = SharedMapping.map(fd, size, "kvm_run");
      const v = new Vcpu(fd, run);
      this.vcpus.push(v);
      v.setCpuid(cpuid);
      return v;
    } catch (e) {
      if (!this.vcpus.some((v) => v.fd === fd)) closeFd(fd);
      throw e;
    }
  }

  /** Unmaps and closes everything the VM opened (the /dev/kvm fd is the caller's). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const v of this.vcpus) {
      v.run.unmap();
      closeFd(v.fd);
    }
    this.memory.unmap();
    closeFd(this.memFd);
    closeFd(this.fd);
  }
}
