/**
 * Builds the syscall program that turns a clone child into a container's init: namespaces,
 * rootfs and mounts (resolved inside the rootfs with openat2 and mounted on fds with the new
 * mount API), devices, pivot_root, the process's credentials and limits, the wait for `start`
 * and the execve. Pure: no system call is made here, so every decision can be unit tested and
 * printed (`runts debug plan`).
 *
 * One file per phase in `init_program/`: namespaces, rootfs, mounts, devices, paths (masked,
 * read-only, sysctl), console, credentials, seccomp, process; `build.ts` orders them.
 * @module
 */
export { buildInitProgram } from "./init_program/build.ts";
export type { ExecJoin, InitOptions, InitPlan, NsType } from "./init_program/options.ts";
export { SCRATCH_FD } from "./init_program/options.ts";
export { DEFAULT_DEVICES, makedev } from "./init_program/devices.ts";
export { executableCandidates } from "./init_program/process.ts";
export { filterProg, SECCOMP_SET_MODE_FILTER } from "./init_program/seccomp.ts";
