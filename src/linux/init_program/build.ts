/**
 * The order of the phases: an init (namespaces, rootfs, console, process) or a process
 * joining a running container (its namespaces, console, process).
 * @module
 */
import { REPORT_FD, ResultAddr } from "../../../ffi/program.ts";
import { MARK } from "../channel.ts";
import { u64s } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { E, NS_FLAG, PR } from "../consts.ts";
import { Builder } from "./builder.ts";
import { setupConsole } from "./console.ts";
import { devices } from "./devices.ts";
import { mounts, readonlyAtLast } from "./mounts.ts";
import {
  closeRuntimeFds,
  joinNamespaces,
  loopbackUp,
  newTimeNamespace,
  uts,
} from "./namespaces.ts";
import type { ExecJoin, InitOptions, InitPlan, NsType } from "./options.ts";
import { maskAndReadonly, sysctls } from "./paths.ts";
import { execAffinity, oomScoreAdj, processSetup } from "./process.ts";
import { enterRoot, hookPoint, makeCwd, prepareRoot } from "./rootfs.ts";

/** An init: namespaces, rootfs, console, then the process (or an exec, with `b.o.exec`). */
export function buildInit(b: Builder): InitPlan {
  if (b.o.exec !== undefined) return buildExec(b, b.o.exec);
  const namespaces = b.spec.linux?.namespaces ?? [];
  const newNs = namespaces.filter((n) => !n.path).map((n) => n.type as NsType);
  const newUser = newNs.includes("user");
  // time cannot be a clone() flag (0x80 is in CSIGNAL) and cgroup is unshared after the
  // cgroup is joined; both are done by the child.
  const cloneFlags = newNs
    .filter((t) => t !== "time" && t !== "cgroup")
    .reduce((f, t) => f | NS_FLAG[t], 0);

  b.phase = "namespaces";
  closeRuntimeFds(b);
  // The parent puts the child into its cgroup (and writes its id maps) after the clone. The
  // first write to cgroup.procs waits for an RCU grace period (~10 ms): without id maps to wait
  // for, the child makes the container's mounts meanwhile and waits just before what the cgroup
  // decides: a cgroup namespace (unshared after the join) or the device nodes (mknod is checked
  // by the device controller).
  const late = !newUser && newNs.includes("mount") && !newNs.includes("cgroup");
  if (newUser || (b.o.waitAtStart && !late)) waitForParent(b, "the cgroup and the id maps");
  if (newUser) {
    // Until now the child still has the parent's (unmapped) ids: become the namespace's root.
    b.call("setresgid", SYS.setresgid, [0, 0, 0], { subject: "root of the user namespace" });
    b.call("setresuid", SYS.setresuid, [0, 0, 0], { subject: "root of the user namespace" });
    // Changing ids cleared "dumpable", which makes /proc/self root-owned: set it back until
    // our /proc/self files are written.
    b.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 1, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
  }
  joinNamespaces(b);
  b.call("setsid", SYS.setsid, []);
  // /proc/self files turn root-owned once not dumpable: write ours first.
  if (newNs.includes("time")) newTimeNamespace(b);
  oomScoreAdj(b);
  b.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 0, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
  if (newNs.includes("cgroup")) {
    b.call("unshare", SYS.unshare, [NS_FLAG.cgroup], { subject: "CLONE_NEWCGROUP" });
  }
  if (newNs.includes("network")) loopbackUp(b);
  uts(b);

  if (newNs.includes("mount")) {
    b.phase = "rootfs";
    b.call("umask", SYS.umask, [0]);
    const root = prepareRoot(b);
    mounts(b, root);
    if (b.o.waitAtStart && late) waitForParent(b, "the cgroup");
    devices(b, root);
    makeCwd(b, root);
    if (b.o.hookSync) hookPoint(b);
    enterRoot(b, root);
    sysctls(b);
    maskAndReadonly(b);
  } else {
    b.phase = "rootfs";
    if (b.o.hookSync) hookPoint(b);
    b.call("chroot", SYS.chroot, [b.o.rootfs], { subject: JSON.stringify(b.o.rootfs) });
    sysctls(b);
  }
  if (b.o.consoleFd !== undefined) setupConsole(b, b.o.consoleFd, newNs.includes("mount"));
  if (newNs.includes("mount")) readonlyAtLast(b);

  b.phase = "process";
  processSetup(b);
  return { program: b.p, cloneFlags, newUser, newNamespaces: newNs };
}

/** Blocks until the parent's byte on the control pipe (EOF fails: the parent is gone). */
function waitForParent(b: Builder, what: string): void {
  b.call("read", SYS.read, [b.o.ctlFd, new Uint8Array(8), 1], {
    zeroFails: true,
    subject: `waiting for ${what}`,
  });
}

/** A process joining a running container: its namespaces (rootfs included), then the same
 * process setup as an init. */
export function buildExec(b: Builder, exec: ExecJoin): InitPlan {
  b.phase = "namespaces";
  closeRuntimeFds(b);
  execAffinity(b, "initial");
  if (exec.forkIntoPidNs) return buildExecForked(b, exec);
  if (b.o.waitAtStart) waitForParent(b, "the cgroup");
  b.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 0, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
  if (exec.nsFlags !== 0) {
    b.call("setns", SYS.setns, [exec.pidfd, exec.nsFlags], {
      subject: "the container's namespaces",
    });
  }
  if (b.o.consoleFd !== undefined) {
    b.call("setsid", SYS.setsid, []);
    setupConsole(b, b.o.consoleFd, false);
  }
  b.phase = "process";
  processSetup(b);
  return { program: b.p, cloneFlags: 0, newUser: false, newNamespaces: [] };
}

/**
 * An exec whose caller may not join the container's pid namespace itself (rootless: that
 * needs CAP_SYS_ADMIN in the container's user namespace). The child joins every namespace,
 * user first, through the pidfd, then forks (CLONE_PARENT: the grandchild is a sibling, so the
 * caller, or its subreaper, stays the parent) into the pid namespace. The intermediate reports
 * the grandchild's host pid (PID_INDEX, then the pid) and exits 0; the grandchild waits for
 * the parent's byte (it learns the pid first, to put it into the cgroup) and goes on as any
 * exec. pidfd_open of the fork's result tells the two apart: EINVAL for pid 0 in the child.
 */
export function buildExecForked(b: Builder, exec: ExecJoin): InitPlan {
  b.call("prctl", SYS.prctl, [PR.SET_DUMPABLE, 0, 0, 0, 0], { subject: "PR_SET_DUMPABLE" });
  b.call("setns", SYS.setns, [exec.pidfd, exec.nsFlags | NS_FLAG.pid], {
    subject: "the container's namespaces",
  });
  const fork = b.call("clone", SYS.clone, [CLONE_PARENT | SIGCHLD, 0, 0, 0, 0], {
    subject: "into the container's pid namespace",
  });
  b.call("pidfd_open", SYS.pidfd_open, [fork, 0], {
    ok: [E.EINVAL],
    onOkGoto: "exec-intermediate",
    subject: "the forked process",
  });
  waitForParent(b, "the cgroup");
  if (b.o.consoleFd !== undefined) {
    b.call("setsid", SYS.setsid, []);
    setupConsole(b, b.o.consoleFd, false);
  }
  b.phase = "process";
  processSetup(b);
  b.p.label("exec-intermediate");
  b.phase = "namespaces";
  b.call("write", SYS.write, [REPORT_FD, u64s(MARK.pid, 0n).subarray(0, 8), 8], {
    subject: "the forked process's pid",
  });
  b.call("write", SYS.write, [REPORT_FD, new ResultAddr(fork.index), 8], {
    subject: "the forked process's pid",
  });
  b.call("exit_group", SYS.exit_group, [0]);
  return { program: b.p, cloneFlags: 0, newUser: false, newNamespaces: [] };
}

const CLONE_PARENT = 0x8000;
const SIGCHLD = 17;

/** Builds the init's program (or an exec'd process's, with `o.exec`). */
export function buildInitProgram(o: InitOptions): InitPlan {
  return buildInit(new Builder(o));
}
