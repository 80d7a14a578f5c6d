/**
 * Types of the OCI runtime-spec `config.json` (v1.2, with the v1.3 additions), field names
 * exactly as in the JSON. Only the Linux platform is typed in detail; other platforms' objects
 * pass through as plain data.
 *
 * Numbers are JavaScript numbers: a uint64 such as an rlimit of 2^64-1 (RLIM_INFINITY) arrives
 * rounded to 2^64, so consumers treat values >= 2^64-1 as "unlimited".
 * @module
 */

/** The namespace types of `linux.namespaces[].type`. */
export type LinuxNamespaceType =
  | "pid"
  | "network"
  | "mount"
  | "ipc"
  | "uts"
  | "user"
  | "cgroup"
  | "time";

/** Every {@linkcode LinuxNamespaceType}. */
export const NAMESPACE_TYPES: readonly LinuxNamespaceType[] = [
  "pid",
  "network",
  "mount",
  "ipc",
  "uts",
  "user",
  "cgroup",
  "time",
];

/** The resource names of `process.rlimits[].type` known to Linux. */
export type RlimitType =
  | "RLIMIT_CPU"
  | "RLIMIT_FSIZE"
  | "RLIMIT_DATA"
  | "RLIMIT_STACK"
  | "RLIMIT_CORE"
  | "RLIMIT_RSS"
  | "RLIMIT_NPROC"
  | "RLIMIT_NOFILE"
  | "RLIMIT_MEMLOCK"
  | "RLIMIT_AS"
  | "RLIMIT_LOCKS"
  | "RLIMIT_SIGPENDING"
  | "RLIMIT_MSGQUEUE"
  | "RLIMIT_NICE"
  | "RLIMIT_RTPRIO"
  | "RLIMIT_RTTIME";

/** Every {@linkcode RlimitType}, ordered by the kernel's resource number (RLIMIT_CPU = 0). */
export const RLIMIT_TYPES: readonly RlimitType[] = [
  "RLIMIT_CPU",
  "RLIMIT_FSIZE",
  "RLIMIT_DATA",
  "RLIMIT_STACK",
  "RLIMIT_CORE",
  "RLIMIT_RSS",
  "RLIMIT_NPROC",
  "RLIMIT_NOFILE",
  "RLIMIT_MEMLOCK",
  "RLIMIT_AS",
  "RLIMIT_LOCKS",
  "RLIMIT_SIGPENDING",
  "RLIMIT_MSGQUEUE",
  "RLIMIT_NICE",
  "RLIMIT_RTPRIO",
  "RLIMIT_RTTIME",
];

/** The hook points of `hooks`, in the order they run in a container's life. */
export type HookName =
  | "prestart"
  | "createRuntime"
  | "createContainer"
  | "startContainer"
  | "poststart"
  | "poststop";

/** Every {@linkcode HookName}, in the order they run. */
export const HOOK_NAMES: readonly HookName[] = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
];

/** The whole `config.json` of a bundle. */
export interface Spec {
  /** Version of the runtime-spec the bundle complies with (SemVer). */
  ociVersion: string;
  /** The container's root filesystem (required on Linux; parseSpec() enforces it). */
  root?: Root;
  /** The container's init process; absent for a container only meant to hold namespaces. */
  process?: Process;
  /** Hostname in the container's UTS namespace. */
  hostname?: string;
  /** NIS domain name in the container's UTS namespace. */
  domainname?: string;
  /** Mounts in the container, in order, after the root. */
  mounts?: Mount[];
  /** Hooks run at points of the lifecycle. */
  hooks?: Hooks;
  /** Arbitrary metadata; keys are reverse-domain names. */
  annotations?: Record<string, string>;
  /** Linux-specific configuration. */
  linux?: Linux;
  /** Windows-specific configuration (passed through, not used). */
  windows?: Record<string, unknown>;
  /** Solaris-specific configuration (passed through, not used). */
  solaris?: Record<string, unknown>;
  /** Virtual-machine configuration (passed through, not used). */
  vm?: Record<string, unknown>;
  /** z/OS-specific configuration (passed through, not used). */
  zos?: Record<string, unknown>;
  /** FreeBSD-specific configuration (v1.3, passed through, not used). */
  freebsd?: Record<string, unknown>;
}

/** The container's root filesystem. */
export interface Root {
  /** Path of the root filesystem, absolute or relative to the bundle. */
  path: string;
  /** Make the root filesystem read-only. */
  readonly?: boolean;
}

/** Size of a terminal, in characters. */
export interface ConsoleSize {
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
}

/** A process to run: the container's init, or an `exec`'d process (process.json). */
export interface Process {
  /** Attach a pseudo-terminal (sent to `--console-socket`). */
  terminal?: boolean;
  /** Initial size of the terminal. */
  consoleSize?: ConsoleSize;
  /** The user the process runs as (REQUIRED on POSIX by the spec, uid/gid 0 when absent). */
  user?: User;
  /** argv; the first entry is the program (looked up in the container's PATH). */
  args?: string[];
  /** The full command line (Windows only). */
  commandLine?: string;
  /** Environment, `KEY=value` entries. */
  env?: string[];
  /** Working directory, an absolute path inside the container. */
  cwd: string;
  /** Capability sets. */
  capabilities?: LinuxCapabilities;
  /** Resource limits set with setrlimit. */
  rlimits?: POSIXRlimit[];
  /** Set PR_SET_NO_NEW_PRIVS. */
  noNewPrivileges?: boolean;
  /** AppArmor profile to run the process under. */
  apparmorProfile?: string;
  /** Value written to /proc/self/oom_score_adj (-1000..1000). */
  oomScoreAdj?: number;
  /** Scheduling policy and attributes (sched_setattr, v1.2). */
  scheduler?: LinuxScheduler;
  /** SELinux label of the process. */
  selinuxLabel?: string;
  /** I/O priority (ioprio_set, v1.2). */
  ioPriority?: LinuxIOPriority;
  /** CPU affinity of the runtime while it execs the process (v1.2). */
  execCPUAffinity?: CPUAffinity;
}

/** The user a process runs as. */
export interface User {
  /** User id in the container. */
  uid: number;
  /** Group id in the container. */
  gid: number;
  /** umask of the process (default 0o022). */
  umask?: number;
  /** Supplementary group ids. */
  additionalGids?: number[];
  /** User name (Windows only). */
  username?: string;
}

/** The capability sets of a process (`CAP_*` names). */
export interface LinuxCapabilities {
  /** Bounding set. */
  bounding?: string[];
  /** Effective set. */
  effective?: string[];
  /** Inheritable set. */
  inheritable?: string[];
  /** Permitted set. */
  permitted?: string[];
  /** Ambient set. */
  ambient?: string[];
}

/** One resource limit. */
export interface POSIXRlimit {
  /** The resource (`RLIMIT_NOFILE`...). */
  type: RlimitType;
  /** Hard limit (values >= 2^64-1 mean unlimited). */
  hard: number;
  /** Soft limit (values >= 2^64-1 mean unlimited). */
  soft: number;
}

/** Scheduling policy names of `process.scheduler.policy`. */
export type SchedulerPolicy =
  | "SCHED_OTHER"
  | "SCHED_FIFO"
  | "SCHED_RR"
  | "SCHED_BATCH"
  | "SCHED_ISO"
  | "SCHED_IDLE"
  | "SCHED_DEADLINE";

/** Scheduling attributes of a process (sched_setattr(2)). */
export interface LinuxScheduler {
  /** The policy. */
  policy: SchedulerPolicy;
  /** Nice value (SCHED_OTHER, SCHED_BATCH). */
  nice?: number;
  /** Static priority (SCHED_FIFO, SCHED_RR). */
  priority?: number;
  /** `SCHED_FLAG_*` names. */
  flags?: string[];
  /** SCHED_DEADLINE runtime, in nanoseconds. */
  runtime?: number;
  /** SCHED_DEADLINE deadline, in nanoseconds. */
  deadline?: number;
  /** SCHED_DEADLINE period, in nanoseconds. */
  period?: number;
}

/** I/O priority of a process. */
export interface LinuxIOPriority {
  /** `IOPRIO_CLASS_RT`, `IOPRIO_CLASS_BE` or `IOPRIO_CLASS_IDLE`. */
  class: "IOPRIO_CLASS_RT" | "IOPRIO_CLASS_BE" | "IOPRIO_CLASS_IDLE";
  /** Priority within the class, 0 (highest) to 7. */
  priority: number;
}

/** CPU affinity for the runtime's exec of a process (cpuset list syntax, `"0-3,7"`). */
export interface CPUAffinity {
  /** Affinity right after the runtime joins the container's cgroup. */
  initial?: string;
  /** Affinity of the process once it runs. */
  final?: string;
}

/** One mount. */
export interface Mount {
  /** Absolute path of the mount point inside the container. */
  destination: string;
  /** Filesystem type (`proc`, `tmpfs`, `bind`...). */
  type?: string;
  /** Device, path (for bind mounts) or a name. */
  source?: string;
  /** Mount options (`ro`, `rbind`, `mode=755`...). */
  options?: string[];
  /** Id-mapped mount: uid mappings (v1.2). */
  uidMappings?: LinuxIDMapping[];
  /** Id-mapped mount: gid mappings (v1.2). */
  gidMappings?: LinuxIDMapping[];
}

/** One hook: a program the runtime runs with the container's state on stdin. */
export interface Hook {
  /** Absolute path of the program, on the runtime's host (or container, for some hooks). */
  path: string;
  /** argv, including argv[0]. */
  args?: string[];
  /** Environment, `KEY=value` entries. */
  env?: string[];
  /** Seconds before the hook is killed; > 0. */
  timeout?: number;
}

/** The hooks of each lifecycle point. */
export interface Hooks {
  /** Deprecated: after the namespaces exist, before pivot_root (runtime namespace). */
  prestart?: Hook[];
  /** After the namespaces exist, before pivot_root (runtime namespace). */
  createRuntime?: Hook[];
  /** After the namespaces exist, before pivot_root (container namespace). */
  createContainer?: Hook[];
  /** In the container, right before the user process is executed. */
  startContainer?: Hook[];
  /** After the user process started (runtime namespace). */
  poststart?: Hook[];
  /** After the container is deleted (runtime namespace). */
  poststop?: Hook[];
}

/** Linux-specific configuration. */
export interface Linux {
  /** User namespace uid mappings. */
  uidMappings?: LinuxIDMapping[];
  /** User namespace gid mappings. */
  gidMappings?: LinuxIDMapping[];
  /** Kernel parameters to set (`net.ipv4.ip_forward`: `"1"`). */
  sysctl?: Record<string, string>;
  /** Cgroup resource limits. */
  resources?: LinuxResources;
  /** Cgroup path (absolute, relative, or `slice:prefix:name` for systemd). */
  cgroupsPath?: string;
  /** Namespaces to create (no `path`) or join (`path`). */
  namespaces?: LinuxNamespace[];
  /** Device nodes to create in the container. */
  devices?: LinuxDevice[];
  /** Seccomp filter. */
  seccomp?: LinuxSeccomp;
  /** Propagation of the root mount: `private`, `shared`, `slave`, `unbindable` (r-forms too). */
  rootfsPropagation?: string;
  /** Paths masked (over-mounted) in the container. */
  maskedPaths?: string[];
  /** Paths remounted read-only in the container. */
  readonlyPaths?: string[];
  /** SELinux context of the container's mounts. */
  mountLabel?: string;
  /** Intel RDT (resctrl) settings. */
  intelRdt?: LinuxIntelRdt;
  /** Execution domain (personality(2)). */
  personality?: LinuxPersonality;
  /** Offsets of the time namespace's clocks; keys `monotonic` and `boottime`. */
  timeOffsets?: Record<string, LinuxTimeOffset>;
  /** NUMA memory policy (set_mempolicy, v1.3). */
  memoryPolicy?: LinuxMemoryPolicy;
  /** Network devices moved into the container's network namespace (v1.3). */
  netDevices?: Record<string, LinuxNetDevice>;
}

/** One namespace to create or join. */
export interface LinuxNamespace {
  /** The namespace type. */
  type: LinuxNamespaceType;
  /** Join the namespace at this path (`/proc/<pid>/ns/net`) instead of creating one. */
  path?: string;
}

/** One id mapping of a user namespace or an id-mapped mount. */
export interface LinuxIDMapping {
  /** First id in the container. */
  containerID: number;
  /** First id on the host. */
  hostID: number;
  /** Number of ids; > 0. */
  size: number;
}

/** A device node to create. */
export interface LinuxDevice {
  /** Absolute path in the container. */
  path: string;
  /** `c` (char), `b` (block), `u` (unbuffered char) or `p` (FIFO). */
  type: "c" | "b" | "u" | "p";
  /** Major number (not for `p`). */
  major?: number;
  /** Minor number (not for `p`). */
  minor?: number;
  /** Permission bits of the node. */
  fileMode?: number;
  /** Owner uid in the container. */
  uid?: number;
  /** Owner gid in the container. */
  gid?: number;
}

/** One entry of the device cgroup allow/deny list. */
export interface LinuxDeviceCgroup {
  /** Allow (true) or deny (false). */
  allow: boolean;
  /** `a` (all), `c` or `b`. */
  type?: string;
  /** Major number; absent means all. */
  major?: number;
  /** Minor number; absent means all. */
  minor?: number;
  /** Access, a combination of `r`, `w`, `m`. */
  access?: string;
}

/** Memory cgroup settings (bytes; -1 means unlimited). */
export interface LinuxMemory {
  /** Memory limit. */
  limit?: number;
  /** Soft limit. */
  reservation?: number;
  /** Memory plus swap limit. */
  swap?: number;
  /** Kernel memory limit (deprecated). */
  kernel?: number;
  /** Kernel TCP buffer limit (deprecated). */
  kernelTCP?: number;
  /** Swappiness, 0..100. */
  swappiness?: number;
  /** Disable the OOM killer. */
  disableOOMKiller?: boolean;
  /** Hierarchical accounting (v1). */
  useHierarchy?: boolean;
  /** Check current usage before lowering the limit. */
  checkBeforeUpdate?: boolean;
}

/** CPU cgroup settings. */
export interface LinuxCPU {
  /** Relative share of CPU time. */
  shares?: number;
  /** CFS quota in microseconds per period. */
  quota?: number;
  /** CFS burst in microseconds. */
  burst?: number;
  /** CFS period in microseconds. */
  period?: number;
  /** Realtime runtime in microseconds. */
  realtimeRuntime?: number;
  /** Realtime period in microseconds. */
  realtimePeriod?: number;
  /** CPUs allowed (cpuset list syntax). */
  cpus?: string;
  /** Memory nodes allowed (cpuset list syntax). */
  mems?: string;
  /** SCHED_IDLE for the cgroup (cgroup v2). */
  idle?: number;
}

/** Pids cgroup settings. */
export interface LinuxPids {
  /** Maximum number of tasks; -1 or 0 for no limit. */
  limit: number;
}

/** A weight for one block device. */
export interface LinuxWeightDevice {
  /** Major number. */
  major: number;
  /** Minor number. */
  minor: number;
  /** Weight. */
  weight?: number;
  /** Leaf weight (v1 CFQ). */
  leafWeight?: number;
}

/** A throttle rate for one block device. */
export interface LinuxThrottleDevice {
  /** Major number. */
  major: number;
  /** Minor number. */
  minor: number;
  /** Bytes or operations per second. */
  rate: number;
}

/** Block I/O cgroup settings. */
export interface LinuxBlockIO {
  /** Default weight. */
  weight?: number;
  /** Default leaf weight. */
  leafWeight?: number;
  /** Per-device weights. */
  weightDevice?: LinuxWeightDevice[];
  /** Per-device read bytes/s limits. */
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  /** Per-device write bytes/s limits. */
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  /** Per-device read operations/s limits. */
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  /** Per-device write operations/s limits. */
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

/** A hugetlb limit. */
export interface LinuxHugepageLimit {
  /** Page size (`2MB`, `1GB`...). */
  pageSize: string;
  /** Limit in bytes. */
  limit: number;
}

/** Network cgroup settings (v1 net_cls / net_prio). */
export interface LinuxNetwork {
  /** net_cls class id. */
  classID?: number;
  /** net_prio priorities per interface. */
  priorities?: { name: string; priority: number }[];
}

/** RDMA cgroup limits of one device. */
export interface LinuxRdma {
  /** Maximum HCA handles. */
  hcaHandles?: number;
  /** Maximum HCA objects. */
  hcaObjects?: number;
}

/** Cgroup resource settings. */
export interface LinuxResources {
  /** Device allow/deny list (v1 devices controller; eBPF on v2). */
  devices?: LinuxDeviceCgroup[];
  /** Memory. */
  memory?: LinuxMemory;
  /** CPU and cpuset. */
  cpu?: LinuxCPU;
  /** Pids. */
  pids?: LinuxPids;
  /** Block I/O. */
  blockIO?: LinuxBlockIO;
  /** Hugetlb limits. */
  hugepageLimits?: LinuxHugepageLimit[];
  /** Network class and priorities. */
  network?: LinuxNetwork;
  /** RDMA limits per device name. */
  rdma?: Record<string, LinuxRdma>;
  /** Raw cgroup v2 files to write (`memory.high`: `"1G"`). */
  unified?: Record<string, string>;
}

/** Seccomp actions of `linux.seccomp`. */
export type LinuxSeccompAction =
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_LOG"
  | "SCMP_ACT_NOTIFY";

/** Seccomp argument comparison operators. */
export type LinuxSeccompOperator =
  | "SCMP_CMP_NE"
  | "SCMP_CMP_LT"
  | "SCMP_CMP_LE"
  | "SCMP_CMP_EQ"
  | "SCMP_CMP_GE"
  | "SCMP_CMP_GT"
  | "SCMP_CMP_MASKED_EQ";

/** One argument condition of a seccomp rule. */
export interface LinuxSeccompArg {
  /** Argument index, 0..5. */
  index: number;
  /** Value to compare with. */
  value: number;
  /** Second value (the compared value for SCMP_CMP_MASKED_EQ). */
  valueTwo?: number;
  /** The comparison. */
  op: LinuxSeccompOperator;
}

/** One seccomp rule. */
export interface LinuxSyscall {
  /** Syscall names. */
  names: string[];
  /** Action when they match. */
  action: LinuxSeccompAction;
  /** errno returned with SCMP_ACT_ERRNO (default EPERM). */
  errnoRet?: number;
  /** Argument conditions (all must hold). */
  args?: LinuxSeccompArg[];
}

/** A seccomp filter. */
export interface LinuxSeccomp {
  /** Action for syscalls no rule matches. */
  defaultAction: LinuxSeccompAction;
  /** errno of a SCMP_ACT_ERRNO default action. */
  defaultErrnoRet?: number;
  /** `SCMP_ARCH_*` architectures the filter covers. */
  architectures?: string[];
  /** `SECCOMP_FILTER_FLAG_*` flags. */
  flags?: string[];
  /** Unix socket to send the notify fd to (SCMP_ACT_NOTIFY). */
  listenerPath?: string;
  /** Opaque data sent with the notify fd. */
  listenerMetadata?: string;
  /** The rules. */
  syscalls?: LinuxSyscall[];
}

/** Intel RDT (resctrl) settings. */
export interface LinuxIntelRdt {
  /** resctrl class of service (directory name). */
  closID?: string;
  /** L3 cache allocation schema. */
  l3CacheSchema?: string;
  /** Memory bandwidth schema. */
  memBwSchema?: string;
  /** Raw schemata lines (v1.3). */
  schemata?: string[];
  /** Enable cache monitoring (CMT). */
  enableCMT?: boolean;
  /** Enable memory bandwidth monitoring (MBM). */
  enableMBM?: boolean;
  /** Enable monitoring (v1.3). */
  enableMonitoring?: boolean;
}

/** Execution domain of the container (personality(2)). */
export interface LinuxPersonality {
  /** `LINUX` or `LINUX32`. */
  domain: "LINUX" | "LINUX32";
  /** Additional flags (none are defined yet). */
  flags?: string[];
}

/** Offset of one clock in a time namespace. */
export interface LinuxTimeOffset {
  /** Seconds (may be negative). */
  secs?: number;
  /** Nanoseconds, 0..999999999. */
  nanosecs?: number;
}

/** NUMA memory policy (v1.3). */
export interface LinuxMemoryPolicy {
  /** `MPOL_DEFAULT`, `MPOL_BIND`, `MPOL_INTERLEAVE`... */
  mode: string;
  /** Node list (`"0-3,7"`). */
  nodes: string;
  /** `MPOL_F_*` flags. */
  flags?: string[];
}

/** A network device moved into the container (v1.3). */
export interface LinuxNetDevice {
  /** Name of the device in the container (default: the host name). */
  name?: string;
}
