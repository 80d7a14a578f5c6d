/**
 * The OCI features document (runtime-spec features.md, features-linux.md) that
 * `runts features` prints: what runts recognizes and implements, decided at build time, not
 * from the host.
 * @module
 */
import { OCI_VERSION } from "./default_spec.ts";
import { VERSION } from "../version.ts";
import { HOOK_NAMES, type HookName, type LinuxNamespaceType, NAMESPACE_TYPES } from "./spec.ts";

/**
 * Every capability Linux 6.x knows, ordered by number: `ALL_CAPABILITIES[n]` is capability n
 * (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
 */
export const ALL_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
];

/**
 * The mount options runts recognizes (`options` of `mounts`). Filesystem data such as
 * `mode=755` or `size=64k` is passed to the filesystem and, as features.md asks, not listed.
 */
export const MOUNT_OPTIONS: readonly string[] = [
  "bind",
  "dev",
  "exec",
  "noatime",
  "nodev",
  "nodiratime",
  "noexec",
  "norelatime",
  "nosuid",
  "private",
  "rbind",
  "relatime",
  "ro",
  "rprivate",
  "rshared",
  "rslave",
  "runbindable",
  "rw",
  "shared",
  "slave",
  "strictatime",
  "suid",
  "unbindable",
];

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
 * The features document. A fresh object each call (callers may change it).
 *
 * @example
 * ```ts
 * console.log(JSON.stringify(featuresDocument(), null, "    "));
 * ```
 */
export function featuresDocument(): Features {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: OCI_VERSION,
    hooks: [...HOOK_NAMES],
    mountOptions: [...MOUNT_OPTIONS],
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
