/**
 * The control-socket methods of a sandbox process, one constant and one argument type each
 * (runsc's `containerManager.*`), and the {@linkcode Methods} map that types both ends: the
 * server's handlers (src/boot/handlers.ts) and the host's SandboxClient (src/sandbox/client.ts).
 *
 * Only methods a command calls exist. Signals, pause/resume and stats are not methods: the CLI
 * acts on the kernel objects itself (a start-time-checked pidfd, the container's cgroup), which
 * works the same whether or not the sandbox process is still alive (kill and delete after it was
 * killed), and costs no round trip.
 * @module
 */
import type { Spec } from "../oci/spec.ts";
import type { GuestRun } from "../kvm/machine.ts";

/** Create a container in the sandbox; its init waits for Start. fds: stdin, stdout, stderr, p0.. */
export const CREATE = "containerManager.Create";
/** Release a created container's init into execve. */
export const START = "containerManager.Start";
/** Wait for a container's init to exit. */
export const WAIT = "containerManager.Wait";
/** Start a process in a running container; the sandbox process is its parent. fds as CREATE. */
export const EXECUTE_ASYNC = "containerManager.ExecuteAsync";
/** The sandbox process's view of itself: stack, open fds, processes. */
export const DEBUG_STACKS = "debug.Stacks";
/** Kill a container and forget it; the sandbox exits when it has no container left. */
export const DESTROY = "containerManager.Destroy";
/** Run a built-in KVM guest on the /dev/kvm fd sent as "kvm" (`runts debug kvm`). */
export const KVM_RUN_GUEST = "kvm.RunGuest";

/** Arguments of CREATE. */
export interface CreateArgs {
  id: string;
  spec: Spec;
  rootfs: string;
  bundle: string;
  /** The init becomes a child of the caller (CLONE_PARENT), for `--pid-file` subreapers. */
  cloneParent: boolean;
  noPivot: boolean;
  /** Number of preserved fds attached as p0, p1, ... */
  preserveFds: number;
}
/** Result of CREATE. */
export interface CreateResult {
  pid: number;
  /** Warnings for the caller's stderr (a cgroup with processes already in it). */
  warnings?: string[];
}
/** Result of DESTROY. */
export interface DestroyResult {
  /** The container's processes are gone and its cgroup is removed (false: the cgroup is left). */
  clean: boolean;
}
/** Arguments of START, WAIT, DESTROY. */
export interface IdArgs {
  id: string;
}
/** Result of START: warnings for the caller to print (a failed poststart hook). */
export interface StartResult {
  warnings?: string[];
}
/** Result of WAIT. */
export interface WaitResult {
  /** Exit code (128+signal when killed), or null when the init was not our child. */
  code: number | null;
  signal?: number;
}

/** Arguments of EXECUTE_ASYNC: the container's spec with `process` set to the new process. */
export interface ExecuteAsyncArgs {
  id: string;
  spec: Spec;
  preserveFds: number;
  /** cgroup.procs files to join instead of the init's cgroups (`exec --cgroup`). */
  cgroupProcs?: string[];
}

/** Result of DEBUG_STACKS. */
export interface StacksResult {
  pid: number;
  stack: string;
  fds: string[];
  containers: { id: string; pid: number; state: string; execs: number[] }[];
}

/** Result of a method that answers nothing. */
export type Empty = Record<string, never>;

/** Every method: its argument and result types. Both ends are typed from here. */
export interface Methods {
  [CREATE]: { args: CreateArgs; result: CreateResult };
  [START]: { args: IdArgs; result: StartResult };
  [WAIT]: { args: IdArgs; result: WaitResult };
  [EXECUTE_ASYNC]: { args: ExecuteAsyncArgs; result: CreateResult };
  [DEBUG_STACKS]: { args: Empty; result: StacksResult };
  [DESTROY]: { args: IdArgs; result: DestroyResult };
  [KVM_RUN_GUEST]: { args: KvmRunGuestArgs; result: KvmRunGuestResult };
}

/** A method name. */
export type Method = keyof Methods;
/** Arguments of KVM_RUN_GUEST (fds: kvm, the caller's checked /dev/kvm). */
export interface KvmRunGuestArgs {
  guest: string;
  memoryBytes?: number;
  timeoutMs?: number;
  count?: number;
}
/** Result of KVM_RUN_GUEST. */
export type KvmRunGuestResult = GuestRun;
