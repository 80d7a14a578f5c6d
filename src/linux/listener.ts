/**
 * Sending a seccomp listener fd (SCMP_ACT_NOTIFY) to `linux.seccomp.listenerPath`, as runc
 * does: one message on a stream socket carrying the container process state as JSON and the fd
 * (SCM_RIGHTS).
 * @module
 */
import { closeFd } from "../../ffi/process.ts";
import { sendMsg } from "../../ffi/socket.ts";
import { SPEC_VERSION as OCI_VERSION } from "../version.ts";
import type { Spec } from "../oci/spec.ts";
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
  const sock = connectConsoleSocket(path, "linux.seccomp.listenerPath");
  try {
    sendMsg(sock, new TextEncoder().encode(payload), [fd]);
  } finally {
    closeFd(sock);
  }
}

/**
 * What hands a process's listener fd to the spec's listenerPath (undefined when the spec has
 * none), with the container's state as runc's agents read it.
 */
export function listenerSender(
  spec: Spec,
  c: { id: string; bundle: string; status: OciState["status"] },
): ((fd: number, pid: number) => void) | undefined {
  const listenerPath = spec.linux?.seccomp?.listenerPath;
  if (!listenerPath) return undefined;
  return (fd, pid) =>
    sendListener(
      listenerPath,
      fd,
      listenerPayload(pid, {
        ociVersion: OCI_VERSION,
        id: c.id,
        status: c.status,
        pid,
        bundle: c.bundle,
        annotations: spec.annotations ?? {},
      }, spec.linux?.seccomp?.listenerMetadata ?? ""),
    );
}
