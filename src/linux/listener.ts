/**
 * Sending a seccomp listener fd (SCMP_ACT_NOTIFY) to `linux.seccomp.listenerPath`, as runc
 * does: one message on a stream socket carrying the container process state as JSON and the fd
 * (SCM_RIGHTS).
 * @module
 */
import { closeFd } from "../../ffi/process.ts";
import { sendMsg } from "../../ffi/socket.ts";
import type { OciState } from "../oci/state.ts";
import { connectConsoleSocket } from "./console.ts";

/** The message runc's seccomp agents read (ContainerProcessState). */
export function listenerPayload(pid: number, state: OciState, metadata = ""): string {
  return JSON.stringify({
    ociVersion: state.ociVersion,
    fds: ["seccompFd"],
    pid,
    metadata,
    state,
  });
}

/** Connects to `path` and sends the listener fd with the process state. */
export function sendListener(path: string, fd: number, payload: string): void {
  let sock: number;
  try {
    sock = connectConsoleSocket(path);
  } catch (e) {
    throw new Error(`linux.seccomp.listenerPath ${JSON.stringify(path)}: ${(e as Error).message}`);
  }
  try {
    sendMsg(sock, new TextEncoder().encode(payload), [fd]);
  } finally {
    closeFd(sock);
  }
}
