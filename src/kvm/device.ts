/**
 * The KVM device as the short-lived runts command opens it (runsc's `deviceFileForPlatform`):
 * `/dev/kvm` opened O_RDWR|O_CLOEXEC, the API version and the capabilities the VMM needs checked,
 * each failure one clear sentence. The sandbox process never opens the device: it receives this
 * fd over the control socket.
 * @module
 */
import { SyscallError } from "../../ffi/error.ts";
import { ioctlRaw, KVM, KVM_API_VERSION, KVM_CAP, type KvmCapName } from "../../ffi/kvm.ts";
import { closeFd, openPath } from "../../ffi/process.ts";

/** Where the device is. */
export const KVM_DEVICE = "/dev/kvm";

/** The capabilities runts' VMM cannot work without. */
export const REQUIRED_CAPS: readonly KvmCapName[] = ["USER_MEMORY", "EXT_CPUID", "IMMEDIATE_EXIT"];

/** Capabilities reported by `runts features` (value: KVM_CHECK_EXTENSION's answer). */
export const REPORTED_CAPS: readonly KvmCapName[] = [
  "USER_MEMORY",
  "EXT_CPUID",
  "IMMEDIATE_EXIT",
  "SET_TSS_ADDR",
  "IRQCHIP",
  "HLT",
  "SYNC_MMU",
  "SYNC_REGS",
  "NR_VCPUS",
  "MAX_VCPUS",
  "NR_MEMSLOTS",
];

/** An open, checked KVM device. */
export interface KvmDevice {
  fd: number;
  apiVersion: number;
}

const O_RDWR = 2;

/** KVM_CHECK_EXTENSION of each capability (0 when absent). */
export function checkExtensions(fd: number, caps: readonly KvmCapName[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of caps) out[c] = Math.max(0, ioctlRaw(fd, KVM.CHECK_EXTENSION, KVM_CAP[c]));
  return out;
}

/**
 * Checks an fd that should be /dev/kvm: the API version, then every required capability.
 * Throws `kvm: <path>: ...` naming what is wrong.
 */
export function checkKvmFd(fd: number, path = KVM_DEVICE): number {
  const v = ioctlRaw(fd, KVM.GET_API_VERSION);
  if (v < 0) {
    throw new Error(
      `kvm: ${JSON.stringify(path)} is not a KVM device: ${new SyscallError("ioctl", -v).message}`,
    );
  }
  const err = kvmAnswersError(
    path,
    v,
    v === KVM_API_VERSION ? checkExtensions(fd, REQUIRED_CAPS) : {},
  );
  if (err !== undefined) throw err;
  return v;
}

/**
 * The error for a device's answers, if any: a wrong API version, or the first required
 * capability it lacks (by name). Pure, for tests.
 */
export function kvmAnswersError(
  path: string,
  apiVersion: number,
  caps: Record<string, number>,
): Error | undefined {
  if (apiVersion !== KVM_API_VERSION) {
    return new Error(
      `kvm: ${
        JSON.stringify(path)
      } reports API version ${apiVersion}, runts needs ${KVM_API_VERSION}`,
    );
  }
  for (const c of REQUIRED_CAPS) {
    if ((caps[c] ?? 0) <= 0) {
      return new Error(`kvm: ${JSON.stringify(path)} lacks the capability KVM_CAP_${c}`);
    }
  }
  return undefined;
}

/**
 * Opens and checks the KVM device. Errors: `kvm: "/dev/kvm" does not exist (no KVM on this
 * host)`, `kvm: no permission to open "/dev/kvm"`, wrong API version, a missing capability.
 */
export function openKvm(path = KVM_DEVICE): KvmDevice {
  let fd: number;
  try {
    fd = openPath(path, O_RDWR);
  } catch (e) {
    if (e instanceof SyscallError) {
      if (e.code === "ENOENT") {
        throw new Error(`kvm: ${JSON.stringify(path)} does not exist (no KVM on this host)`);
      }
      if (e.code === "EACCES" || e.code === "EPERM") {
        throw new Error(`kvm: no permission to open ${JSON.stringify(path)} (${e.code})`);
      }
      throw new Error(`kvm: cannot open ${JSON.stringify(path)}: ${e.code}`);
    }
    throw e;
  }
  try {
    return { fd, apiVersion: checkKvmFd(fd, path) };
  } catch (e) {
    closeFd(fd);
    throw e;
  }
}

/** The kvm entry of `runts features`' platforms. */
export interface KvmPlatformInfo {
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  apiVersion?: number;
  /** vmx (Intel VT-x), svm (AMD-V), pvm (software: the kvm_pvm module), or unknown. */
  backend: "vmx" | "svm" | "pvm" | "unknown";
  capabilities?: Record<string, number>;
}

/** Host facts the backend is read from (a seam for tests). */
export interface HostFacts {
  /** Flags of the first CPU in /proc/cpuinfo. */
  cpuFlags: string[];
  /** Names under /sys/module. */
  modules: string[];
}

/** Reads the CPU flags and loaded modules of this host. */
export function hostFacts(): HostFacts {
  let cpuFlags: string[] = [];
  try {
    const line = /^flags\s*:(.*)$/m.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? "";
    cpuFlags = line.trim().split(/\s+/);
  } catch {
    // no /proc: no flags
  }
  const modules: string[] = [];
  try {
    for (const e of Deno.readDirSync("/sys/module")) modules.push(e.name);
  } catch {
    // no sysfs
  }
  return { cpuFlags, modules };
}

/**
 * The KVM backend as the host shows it: the kvm_pvm module means PVM (software
 * virtualization, whatever the CPU has), else the vmx or svm CPU flag with kvm_intel/kvm_amd.
 */
export function kvmBackend(h: HostFacts): KvmPlatformInfo["backend"] {
  if (h.modules.includes("kvm_pvm")) return "pvm";
  if (h.cpuFlags.includes("vmx") || h.modules.includes("kvm_intel")) return "vmx";
  if (h.cpuFlags.includes("svm") || h.modules.includes("kvm_amd")) return "svm";
  return "unknown";
}

/** What `runts features` reports about KVM here; never throws. */
export function kvmPlatformInfo(path = KVM_DEVICE, facts = hostFacts()): KvmPlatformInfo {
  const backend = kvmBackend(facts);
  let dev: KvmDevice;
  try {
    dev = openKvm(path);
  } catch (e) {
    return { available: false, reason: (e as Error).message, backend };
  }
  try {
    return {
      available: true,
      apiVersion: dev.apiVersion,
      backend,
      capabilities: checkExtensions(dev.fd, REPORTED_CAPS),
    };
  } finally {
    closeFd(dev.fd);
  }
}
