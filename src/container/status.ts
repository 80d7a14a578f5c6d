/**
 * The one table of which operation is allowed in which container status, with runc's
 * semantics. Every command asks here; nothing else decides.
 *
 * | status   | start | kill | delete | delete -f | pause | resume | exec | update |
 * |----------|-------|------|--------|-----------|-------|--------|------|--------|
 * | creating |       |      |        | yes       |       |        |      |        |
 * | created  | yes   | yes  | yes*   | yes       | yes   |        | yes  | yes    |
 * | running  |       | yes  |        | yes       | yes   |        | yes  | yes    |
 * | paused   |       | yes  |        | yes       |       | yes    | (†)  | yes    |
 * | stopped  |       |      | yes    | yes       |       |        |      |        |
 *
 * \* `runc delete` of a created container kills its init (blocked before execve) and deletes it
 * without `--force`; see {@linkcode deleteKills}.
 * † only with `exec --ignore-paused`, as in runc.
 *
 * runc also pauses a created container (libcontainer `Pause` accepts Running and Created).
 * `creating` is the OCI status of a container whose `create` has not returned; only a forced
 * delete may remove it (the case of a `create` that died half-way).
 * @module
 */
import type { ContainerStatus } from "../oci/state.ts";

export type { ContainerStatus } from "../oci/state.ts";

/** The operations whose permission depends on the status. */
export type Operation =
  | "start"
  | "kill"
  | "delete"
  | "forceDelete"
  | "pause"
  | "resume"
  | "exec"
  | "update";

/** For each operation, the statuses it is allowed in. */
export const ALLOWED: Readonly<Record<Operation, readonly ContainerStatus[]>> = {
  start: ["created"],
  kill: ["created", "running", "paused"],
  delete: ["created", "stopped"],
  forceDelete: ["creating", "created", "running", "paused", "stopped"],
  pause: ["created", "running"],
  resume: ["paused"],
  exec: ["created", "running"],
  update: ["created", "running", "paused"],
};

/** True when `op` is allowed in `status`. */
export function allowed(op: Operation, status: ContainerStatus): boolean {
  return ALLOWED[op].includes(status);
}

/** `runts start`: only a created container. */
export function canStart(status: ContainerStatus): boolean {
  return allowed("start", status);
}

/** `runts kill`: a container with a live init (created, running or paused). */
export function canKill(status: ContainerStatus): boolean {
  return allowed("kill", status);
}

/**
 * `runts delete`: stopped or created containers; with `force`, any container (a live one is
 * killed first).
 */
export function canDelete(status: ContainerStatus, force = false): boolean {
  return allowed(force ? "forceDelete" : "delete", status);
}

/** True when deleting a container in this status must first kill its processes. */
export function deleteKills(status: ContainerStatus): boolean {
  return status === "created" || status === "running" || status === "paused";
}

/** `runts pause`: running or created containers. */
export function canPause(status: ContainerStatus): boolean {
  return allowed("pause", status);
}

/** `runts resume`: paused containers. */
export function canResume(status: ContainerStatus): boolean {
  return allowed("resume", status);
}

/** `runts exec`: created or running; paused only with `ignorePaused` (`--ignore-paused`). */
export function canExec(status: ContainerStatus, ignorePaused = false): boolean {
  return allowed("exec", status) || (ignorePaused && status === "paused");
}

const VERB: Record<Operation, string> = {
  start: "start",
  kill: "kill",
  delete: "delete",
  forceDelete: "delete",
  pause: "pause",
  resume: "resume",
  exec: "exec in",
  update: "update",
};

/**
 * The message for an operation refused in a status, naming the container and the status.
 *
 * @example
 * ```ts
 * refusal("start", "web", "stopped"); // 'cannot start container "web": it is stopped'
 * ```
 */
export function refusal(op: Operation, id: string, status: ContainerStatus): string {
  // runc's words, which containerd's shims parse.
  if (op === "kill" && !allowed("kill", status)) return "container not running";
  if (op === "exec") {
    return status === "paused"
      ? "cannot exec in a paused container (use --ignore-paused to override)"
      : `cannot exec in a ${status} container`;
  }
  const base = `cannot ${VERB[op]} container ${JSON.stringify(id)}: it is ${status}`;
  if (op === "delete" && canDelete(status, true)) return `${base} (use --force)`;
  return base;
}
