/**
 * The OCI features document (runtime-spec features.md, features-linux.md) that
 * `runts features` prints: what runts recognizes and implements, decided at build time, not
 * from the host.
 * @module
 */
import { OCI_VERSION } from "./default_spec.ts";
import { ALL_CAPABILITIES } from "./capabilities.ts";
import { VERSION } from "../version.ts";
import { HOOK_NAMES, type HookName, type LinuxNamespaceType, NAMESPACE_TYPES } from "./spec.ts";

export { ALL_CAPABILITIES };

/** The Linux part of the features document. */
export interface LinuxFeatures {
  /** Recognized namespace types. */
  namespaces: LinuxNamespaceType[];
  /** Recognized capability names. */
  capabilities: string[];
  /** Implemented cgroup managers. */
  cgroup: { v1: boolean; v2: boolean; systemd: boolean; systemdUser: boolean; rdma: boolean };
  /** Seccomp support. */
  seccomp: {
    enabled: boolean;
    actions?: string[];
    operators?: string[];
    archs?: string[];
    knownFlags?: string[];
    supportedFlags?: string[];
  };
  /** AppArmor support. */
  apparmor: { enabled: boolean };
  /** SELinux support. */
  selinux: { enabled: boolean };
  /** Intel RDT support. */
  intelRdt: { enabled: boolean };
  /** Mount extensions (id-mapped mounts). */
  mountExtensions: { idmap: { enabled: boolean } };
}

/** The features document. */
export interface Features {
  /** Lowest ociVersion accepted in config.json. */
  ociVersionMin: string;
  /** Highest ociVersion accepted in config.json (the document uses no newer field). */
  ociVersionMax: string;
  /** Recognized hook names. */
  hooks: HookName[];
  /** Recognized mount options. */
  mountOptions: string[];
  /** Linux features. */
  linux: LinuxFeatures;
  /** Runtime metadata. */
  annotations: Record<string, string>;
  /** runts: the platforms and what this host offers for them (`runts features` fills it in). */
  platforms?: PlatformFeatures;
}

/** The platforms part of `runts features` (runts' own field, read from the host). */
export interface PlatformFeatures {
  native: { available: boolean };
  kvm: {
    available: boolean;
    /** Why not, when unavailable. */
    reason?: string;
    apiVersion?: number;
    /** vmx, svm, pvm or unknown: what the host shows (CPU flags, loaded modules). */
    backend: string;
    /** KVM_CHECK_EXTENSION answers by capability name. */
    capabilities?: Record<string, number>;
  };
}

/** The runts version reported in the features annotations. */
export const RUNTS_VERSION = VERSION;

/**
 * The features document. A fresh object each call (callers may change it). `recognized` holds
 * what the layers above this one parse: the mount option names (src/linux/mount_options.ts).
 * Filesystem data such as `mode=755` is passed to the filesystem and, as features.md asks,
 * not listed.
 *
 * @example
 * ```ts
 * const doc = featuresDocument({ mountOptions: mountOptionNames() });
 * console.log(JSON.stringify(doc, null, "    "));
 * ```
 */
export function featuresDocument(recognized: { mountOptions: readonly string[] }): Features {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: [...recognized.mountOptions],
    linux: {
      namespaces: [...NAMESPACE_TYPES].sort(),
      capabilities: [...ALL_CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: false, rdma: false },
      // Compiled with libseccomp (dlopen'd when a spec has a filter); a NOTIFY listener fd goes
      // to linux.seccomp.listenerPath with the process state, as runc sends it.
      seccomp: {
        enabled: true,
        actions: [
          "SCMP_ACT_ALLOW",
          "SCMP_ACT_ERRNO",
          "SCMP_ACT_KILL",
          "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_KILL_THREAD",
          "SCMP_ACT_LOG",
          "SCMP_ACT_NOTIFY",
          "SCMP_ACT_TRACE",
          "SCMP_ACT_TRAP",
        ],
        operators: [
          "SCMP_CMP_EQ",
          "SCMP_CMP_GE",
          "SCMP_CMP_GT",
          "SCMP_CMP_LE",
          "SCMP_CMP_LT",
          "SCMP_CMP_MASKED_EQ",
          "SCMP_CMP_NE",
        ],
        archs: ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
        knownFlags: [
          "SECCOMP_FILTER_FLAG_TSYNC",
          "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
          "SECCOMP_FILTER_FLAG_LOG",
        ],
        supportedFlags: ["SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: { "io.github.runts.version": RUNTS_VERSION },
  };
}
