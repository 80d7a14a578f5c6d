/**
 * The config.json that `runts spec` writes: the same document as `runc spec` (runc 1.2+,
 * libcontainer/specconv `Example` and `ToRootless`).
 * @module
 */
import { SPEC_VERSION } from "../version.ts";
import type { Mount, Spec } from "./spec.ts";

/** The ociVersion runts writes and reports. */
export const OCI_VERSION = SPEC_VERSION;

/** Options of {@linkcode defaultSpec}. */
export interface DefaultSpecOptions {
  /** Rootless form: user namespace mapping the caller to root, no network namespace... */
  rootless?: boolean;
  /** The process's args (default `["sh"]`). */
  args?: string[];
  /**
   * Add a cgroup namespace, as runc does on a cgroup v2 unified host. Default: detected from
   * `/sys/fs/cgroup/cgroup.controllers`.
   */
  cgroupNamespace?: boolean;
  /** Host uid mapped to root in the rootless form (default: the effective uid). */
  uid?: number;
  /** Host gid mapped to root in the rootless form (default: the effective gid). */
  gid?: number;
}

const CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

function cgroup2Unified(): boolean {
  try {
    Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
    return true;
  } catch {
    return false;
  }
}

function mounts(rootless: boolean): Mount[] {
  const list: Mount[] = [
    { destination: "/proc", type: "proc", source: "proc" },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
  if (!rootless) return list;
  return list.map((m) => {
    if (m.destination === "/sys") {
      return {
        destination: "/sys",
        type: "none",
        source: "/sys",
        options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
      };
    }
    if (m.options === undefined) return m;
    return {
      ...m,
      options: m.options.filter((o) => !o.startsWith("uid=") && !o.startsWith("gid=")),
    };
  });
}

/**
 * A default config.json, the one `runc spec` (or `runc spec --rootless`) writes: `sh` on a
 * terminal, a read-only `rootfs`, the standard /proc, /dev, /sys mounts, three capabilities,
 * RLIMIT_NOFILE 1024, pid/network/ipc/uts/mount namespaces, masked and read-only paths.
 *
 * Like current runc (1.2+), it gives no ambient capabilities (runc 1.1 did).
 *
 * @example
 * ```ts
 * Deno.writeTextFileSync("config.json", JSON.stringify(defaultSpec(), null, "\t"));
 * ```
 */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const rootless = opts.rootless === true;
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: [...(opts.args ?? ["sh"])],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: { bounding: [...CAPS], effective: [...CAPS], permitted: [...CAPS] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "runts",
    mounts: mounts(rootless),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
        "/sys/devices/virtual/tpm",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
  const linux = spec.linux!;
  if (opts.cgroupNamespace ?? cgroup2Unified()) linux.namespaces!.push({ type: "cgroup" });
  if (rootless) {
    const uid = opts.uid ?? Deno.uid() ?? 0;
    const gid = opts.gid ?? Deno.gid() ?? 0;
    // Rebuilt so the keys come in runc's (the Go struct's) order.
    spec.linux = {
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      namespaces: [
        ...linux.namespaces!.filter((n) => n.type !== "network" && n.type !== "user"),
        { type: "user" },
      ],
      maskedPaths: linux.maskedPaths!,
      readonlyPaths: linux.readonlyPaths!,
    };
  }
  return spec;
}
