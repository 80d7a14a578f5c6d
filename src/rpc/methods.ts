/**
 * The control-socket methods of a sandbox process, one constant and one argument type each
 * (runsc's `containerManager.*`).
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
/** Signal a container's processes. */
export const SIGNAL = "containerManager.Signal";
/** List the host pids of a container's processes. */
export const PROCESSES = "containerManager.Processes";
/** Start a process in a running container; the sandbox process is its parent. fds as CREATE. */
export const EXECUTE_ASYNC = "containerManager.ExecuteAsync";
/** Wait for a process started with EXECUTE_ASYNC. */
export const WAIT_PID = "containerManager.WaitPID";
/** Freeze a container's processes (its cgroup). */
export const PAUSE = "containerManager.Pause";
/** Thaw a paused container. */
export const RESUME = "containerManager.Resume";
/** A container's cgroup statistics (runc's `events --stats` data) and OOM kill count. */
export const EVENT = "containerManager.Event";
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
}
/** Arguments of START, WAIT, PROCESSES, DESTROY. */
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
/** Arguments of SIGNAL. */
export interface SignalArgs {
  id: string;
  signal: number;
  /** "process": the init; "all": every process of the container. */
  mode: "process" | "all";
}
/** Result of PROCESSES. */
export interface ProcessesResult {
  pids: number[];
}

/** Arguments of EXECUTE_ASYNC: the container's spec with `process` set to the new process. */
export interface ExecuteAsyncArgs {
  id: string;
  spec: Spec;
  preserveFds: number;
  /** cgroup.procs files to join instead of the init's cgroups (`exec --cgroup`). */
  cgroupProcs?: string[];
}
/** Arguments of WAIT_PID. */
export interface WaitPidArgs {
  id: string;
  pid: number;
}

/** Result of DEBUG_STACKS. */
export interface StacksResult {
  pid: number;
  stack: string;
  fds: string[];
  containers: { id: string; pid: number; state: string; execs: number[] }[];
}

/** Arguments of KVM_RUN_GUEST (fds: kvm, the caller's checked /dev/kvm). */
export interface KvmRunGuestArgs {
  guest: string;
  memoryBytes?: number;
  timeoutMs?: number;
  count?: number;
}
/** Result of KVM_RUN_GUEST. */
export type KvmRunGuestResult = GuestRun;
