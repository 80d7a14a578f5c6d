/**
 * The kernel's wait before a cgroup move, started early (see {@linkcode warmCgroupMove}). Its
 * own module: a command that only needs this does not load the cgroup managers.
 * @module
 */
import { closeFd, openPath } from "../../ffi/process.ts";
import { rawSyscallAsync } from "../../ffi/syscall.ts";
import { SYS } from "../../ffi/sysno_x86_64.ts";

/**
 * Starts, in the background, a move of this process into the cgroup it is already in: it moves
 * nothing, and returns at once (errors are ignored).
 *
 * Why: every move of a process between cgroups takes the kernel's cgroup_threadgroup_rwsem for
 * writing, and the first writer after a quiet spell waits for an RCU grace period
 * (rcu_sync_enter): ~10 ms on these machines, the longest single wait of a create (runc pays it
 * too). Writers that come while that state holds go through at once. Started when a create or
 * an exec begins, the wait runs while the cgroup, the init's program and the clone are made,
 * and the init's own move into its cgroup finds the way open.
 */
export function warmCgroupMove(): void {
  // Kept small (it runs cold, first thing): the first line of /proc/self/cgroup that names a
  // hierarchy mounted where hosts mount it, no mountinfo parsing. Any failure: nothing done.
  let fd = -1;
  try {
    const line = Deno.readTextFileSync("/proc/self/cgroup").split("\n", 1)[0]!;
    const [, ctrls = "", path = "/"] = line.split(":");
    const under = ctrls === "" ? "" : `/${ctrls.replace(/^name=/, "")}`;
    fd = openPath(
      `/sys/fs/cgroup${under}${path === "/" ? "" : path}/cgroup.procs`,
      0o1 | 0o2000000, /* O_WRONLY | O_CLOEXEC */
    );
  } catch {
    return;
  }
  const pid = new TextEncoder().encode(String(Deno.pid));
  rawSyscallAsync(SYS.write, fd, pid, pid.byteLength).catch(() => {}).finally(() => closeFd(fd));
}
