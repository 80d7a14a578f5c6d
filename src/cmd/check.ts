/**
 * `runts check [--format text|json]`: what this host offers runts, one line per capability with
 * ✔ or ✘ and the reason; a ✘ says what stops working without it. Exit status 0 when everything
 * `runts run` needs is present.
 *
 * The host is read through a {@linkcode HostView}: a directory under which /proc, /sys, /dev,
 * /etc and /usr are found (`/` normally; a fake tree in tests, or `--host-root`), and a probe
 * for system calls (made with arguments that fail harmlessly: ENOSYS means absent).
 * @module
 */
import { type CgroupLayout, detectCgroupLayout } from "../cgroup/manager.ts";
import { E } from "../linux/consts.ts";
import { rawSyscall } from "../../ffi/syscall.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";
import type { GlobalOptions } from "./context.ts";
import { parseCommandArgs } from "./defs.ts";

/** What check reads: files under `root`, system call probes, the user, libseccomp. */
export interface HostView {
  /** Directory holding proc/, sys/, dev/, etc/, usr/ ("/" for this host). */
  root: string;
  /** True when the kernel has the system call (it did not fail with ENOSYS). */
  hasSyscall(name: SyscallName): boolean;
  /** libseccomp's version, or undefined when the library cannot be loaded. */
  libseccomp(): string | undefined;
  /** The user running check. */
  uid: number;
  /** That user's name (for /etc/subuid). */
  user: string;
}

/** The system calls check probes. */
export type SyscallName =
  | "fsopen"
  | "fsmount"
  | "move_mount"
  | "open_tree"
  | "mount_setattr"
  | "openat2"
  | "pidfd_open"
  | "close_range"
  | "seccomp";

/** One line of check. */
export interface Check {
  /** What is checked. */
  name: string;
  /** Present? */
  ok: boolean;
  /** Needed by `runts run` (a ✘ makes the exit status 1). */
  required: boolean;
  /** What was found. */
  detail: string;
  /** What stops working without it (for a ✘). */
  without?: string;
}

/** Calls each probed syscall with arguments it refuses (bad fd, bad flags): ENOSYS or not. */
function probeSyscall(name: SyscallName): boolean {
  const empty = new Uint8Array([0]);
  let r: number;
  switch (name) {
    case "fsopen":
      r = rawSyscall(SYS.fsopen, empty, 0xffffffff);
      break;
    case "fsmount":
      r = rawSyscall(SYS.fsmount, -1, 0xffffffff, 0);
      break;
    case "move_mount":
      r = rawSyscall(SYS.move_mount, -1, empty, -1, empty, 0xffffffff);
      break;
    case "open_tree":
      r = rawSyscall(SYS.open_tree, -1, empty, 0xffffffff);
      break;
    case "mount_setattr":
      r = rawSyscall(SYS.mount_setattr, -1, empty, 0xffffffff, 0, 0);
      break;
    case "openat2":
      r = rawSyscall(SYS.openat2, -1, empty, 0, 0);
      break;
    case "pidfd_open":
      r = rawSyscall(SYS.pidfd_open, 0, 0xffffffff);
      break;
    case "close_range":
      r = rawSyscall(SYS.close_range, 2, 1, 0);
      break;
    case "seccomp":
      // SECCOMP_GET_ACTION_AVAIL of an invalid action: EOPNOTSUPP when seccomp exists
      r = rawSyscall(SYS.seccomp, 2, 0, new Uint8Array(4).fill(0xee));
      break;
  }
  return r !== -E.ENOSYS;
}

/** The view of the host runts runs on, with its files under `root`. */
export function thisHost(root = "/"): HostView {
  const uid = Deno.uid() ?? 0;
  let user = String(uid);
  try {
    const line = Deno.readTextFileSync(`${root.replace(/\/$/, "")}/etc/passwd`).split("\n")
      .find((l) => l.split(":")[2] === String(uid));
    if (line) user = line.split(":")[0]!;
  } catch {
    // numeric
  }
  return {
    root,
    uid,
    user,
    hasSyscall: probeSyscall,
    libseccomp: () => undefined,
  };
}

function reader(view: HostView) {
  const base = view.root.replace(/\/$/, "");
  const path = (p: string) => `${base}${p}`;
  return {
    path,
    read(p: string): string | undefined {
      try {
        return Deno.readTextFileSync(path(p));
      } catch {
        return undefined;
      }
    },
    exists(p: string): boolean {
      try {
        Deno.statSync(path(p));
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** Namespaces: /proc/self/ns name, OCI name, needed by `run` (runc spec's default)? */
const NAMESPACES: [string, string, boolean][] = [
  ["mnt", "mount", true],
  ["pid", "pid", true],
  ["uts", "uts", true],
  ["ipc", "ipc", true],
  ["net", "network", true],
  ["user", "user", false],
  ["cgroup", "cgroup", false],
  ["time", "time", false],
];

/** Compares "6.1.0-13-amd64" with [5, 12]. */
export function kernelAtLeast(release: string, want: [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > want[0] || (a === want[0] && b >= want[1]);
}

/** Every check, in order. Pure but for what `view` reads. */
export function hostChecks(view: HostView): Check[] {
  const h = reader(view);
  const out: Check[] = [];
  const add = (c: Check) => out.push(c);

  const release = h.read("/proc/sys/kernel/osrelease")?.trim();
  add({
    name: "kernel",
    ok: release !== undefined && kernelAtLeast(release, [5, 12]),
    required: true,
    detail: release === undefined
      ? "/proc/sys/kernel/osrelease unreadable"
      : `Linux ${release} (runts needs 5.12 or newer)`,
    without: "runts' mount and process calls (mount_setattr, openat2, pidfd) are missing",
  });

  for (const [file, oci, required] of NAMESPACES) {
    const ok = h.exists(`/proc/self/ns/${file}`);
    add({
      name: `${oci} namespace`,
      ok,
      required,
      detail: ok ? `/proc/self/ns/${file}` : `no /proc/self/ns/${file}`,
      without: required
        ? `specs with a ${oci} namespace (runts spec's default) cannot run`
        : `specs asking for a ${oci} namespace fail`,
    });
  }

  const maxUserNs = h.read("/proc/sys/user/max_user_namespaces")?.trim();
  const unpriv = h.read("/proc/sys/kernel/unprivileged_userns_clone")?.trim();
  const usernsOk = h.exists("/proc/self/ns/user") && maxUserNs !== "0" && unpriv !== "0";
  add({
    name: "unprivileged user namespaces",
    ok: usernsOk,
    required: false,
    detail: usernsOk
      ? `max_user_namespaces ${maxUserNs ?? "unknown"}`
      : unpriv === "0"
      ? "kernel.unprivileged_userns_clone = 0"
      : maxUserNs === "0"
      ? "user.max_user_namespaces = 0"
      : "no user namespaces",
    without: "rootless containers (runts run by a user) cannot start",
  });

  // The layout runts itself uses (what /proc/self/mountinfo mounts writable), and the
  // controllers each hierarchy offers.
  let layout: CgroupLayout | undefined;
  let noLayout = "";
  try {
    layout = detectCgroupLayout(h.read("/proc/self/mountinfo") ?? "");
  } catch (e) {
    noLayout = (e as Error).message;
  }
  const mode = layout?.mode;
  const unified = layout?.unified?.mountPoint;
  const controllers = mode === "v2"
    ? (h.read(`${unified}/cgroup.controllers`) ?? "").trim().split(/\s+/).filter(Boolean)
    : (layout?.v1 ?? []).flatMap((m) => m.controllers).filter((c) => !c.startsWith("name="));
  add({
    name: "cgroups",
    ok: mode !== undefined,
    required: true,
    detail: mode === undefined
      ? noLayout.replace(/; .*/, "")
      : `${mode}${mode === "hybrid" ? ` (v1 controllers, cgroup2 at ${unified})` : ""}` +
        `, controllers: ${controllers.join(" ") || "none"}`,
    without: "resource limits, pause/resume, stats and kill --all cannot work",
  });
  for (const c of ["cpu", "memory", "pids", "freezer", "devices"]) {
    // cgroup2 has no freezer or devices controller: cgroup.freeze and BPF stand in.
    const builtin = mode === "v2" && (c === "freezer" || c === "devices");
    if (mode === undefined || builtin) continue;
    add({
      name: `cgroup controller ${c}`,
      ok: controllers.includes(c),
      required: false,
      detail: controllers.includes(c) ? "enabled" : "not enabled",
      without: `linux.resources.${c === "freezer" ? "(pause)" : c} is not applied`,
    });
  }
  const delegated = view.uid === 0 ||
    (mode === "v2" &&
      h.exists(
        `${unified}/user.slice/user-${view.uid}.slice/user@${view.uid}.service/cgroup.procs`,
      ));
  add({
    name: "cgroup delegation (rootless)",
    ok: delegated,
    required: false,
    detail: view.uid === 0
      ? "running as root: not needed"
      : delegated
      ? "systemd delegates a cgroup2 subtree to this user"
      : "no cgroup2 subtree delegated to this user",
    without: "rootless containers run without cgroup limits",
  });

  const seccompKernel = (h.read("/proc/self/status") ?? "").includes("\nSeccomp:") &&
    view.hasSyscall("seccomp");
  add({
    name: "seccomp",
    ok: seccompKernel,
    required: false,
    detail: seccompKernel ? "the kernel filters system calls" : "the kernel has no seccomp",
    without: "specs with linux.seccomp cannot run",
  });
  const scmp = view.libseccomp();
  add({
    name: "libseccomp",
    ok: scmp !== undefined,
    required: false,
    detail: scmp !== undefined ? `libseccomp.so.2 ${scmp}` : "libseccomp.so.2 not found",
    without: "specs with linux.seccomp cannot run (install libseccomp2)",
  });

  const calls: [SyscallName[], string, string][] = [
    [
      ["fsopen", "fsmount", "move_mount", "open_tree", "mount_setattr"],
      "new mount API",
      "runts mounts the rootfs with it: no container can start",
    ],
    [["openat2"], "openat2", "paths in the rootfs cannot be resolved safely: no container starts"],
    [["pidfd_open"], "pidfds", "runts tracks processes by pidfd: no container starts"],
    [["close_range"], "close_range", "fds are closed before execve with it: no container starts"],
  ];
  for (const [names, label, without] of calls) {
    const missing = names.filter((n) => !view.hasSyscall(n));
    add({
      name: label,
      ok: missing.length === 0,
      required: true,
      detail: missing.length === 0 ? names.join(", ") : `missing: ${missing.join(", ")}`,
      without,
    });
  }

  const kvm = h.exists("/dev/kvm");
  const backend = ["kvm_intel", "kvm_amd", "kvm_pvm"].filter((m) => h.exists(`/sys/module/${m}`));
  add({
    name: "/dev/kvm",
    ok: kvm,
    required: false,
    detail: kvm
      ? `present${backend.length ? `, backend ${backend.join(", ")}` : ""}`
      : "no /dev/kvm",
    without: "--platform kvm is not available",
  });

  const idmap = ["newuidmap", "newgidmap"].filter((b) =>
    ![`/usr/bin/${b}`, `/bin/${b}`].some((p) => h.exists(p))
  );
  const subuid = (h.read("/etc/subuid") ?? "").split("\n")
    .some((l) => l.split(":")[0] === view.user || l.split(":")[0] === String(view.uid));
  add({
    name: "newuidmap/newgidmap",
    ok: idmap.length === 0,
    required: false,
    detail: idmap.length === 0 ? "installed" : `missing: ${idmap.join(", ")} (package uidmap)`,
    without: "rootless containers can map only the user's own id",
  });
  add({
    name: `/etc/subuid for ${view.user}`,
    ok: view.uid === 0 || subuid,
    required: false,
    detail: view.uid === 0 ? "running as root: not needed" : subuid ? "has a range" : "no range",
    without: "rootless containers can map only the user's own id",
  });

  const systemd = h.exists("/run/systemd/system");
  add({
    name: "systemd",
    ok: systemd,
    required: false,
    detail: systemd ? "systemd is the init (/run/systemd/system)" : "systemd is not the init",
    without: "--systemd-cgroup cannot be used",
  });
  return out;
}

/** The text form: one line each, then a summary line. */
export function checkText(checks: readonly Check[]): string {
  const lines = checks.map((c) =>
    `${c.ok ? "✔" : "✘"} ${c.name}: ${c.detail}${
      c.ok ? "" : ` — ${c.required ? "required: " : ""}${c.without}`
    }`
  );
  const missing = checks.filter((c) => c.required && !c.ok);
  lines.push(
    missing.length === 0
      ? "runts run can run containers on this host"
      : `runts run cannot run containers here: missing ${missing.map((c) => c.name).join(", ")}`,
  );
  return lines.join("\n");
}

/** Runs check. */
export async function main(_g: GlobalOptions, argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("check", argv);
  const format = values.format as string;
  if (format !== "text" && format !== "json") {
    throw new Error(`check: --format must be "text" or "json", not ${JSON.stringify(format)}`);
  }
  const view = thisHost(values["host-root"] as string);
  try {
    const { libseccompVersionText } = await import("../../ffi/libseccomp.ts");
    const text = libseccompVersionText();
    view.libseccomp = () => text;
  } catch {
    view.libseccomp = () => undefined;
  }
  const checks = hostChecks(view);
  const ok = checks.every((c) => c.ok || !c.required);
  if (format === "json") console.log(JSON.stringify({ ok, checks }, null, 2));
  else console.log(checkText(checks));
  return ok ? 0 : 1;
}
