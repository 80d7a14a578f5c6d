/**
 * The runtime-spec state of a container (runtime.md "State"), what `runts state` prints.
 * @module
 */
import { SPEC_VERSION as OCI_VERSION } from "../version.ts";

/** The lifecycle status of a container, as the runtime-spec names it. */
export type ContainerStatus = "creating" | "created" | "running" | "stopped" | "paused";

/** Every {@linkcode ContainerStatus}, in lifecycle order. */
export const CONTAINER_STATUSES: readonly ContainerStatus[] = [
  "creating",
  "created",
  "running",
  "paused",
  "stopped",
];

/** The state of a container (runtime-spec runtime.md). */
export interface OciState {
  /** Version of the runtime-spec the state complies with. */
  ociVersion: string;
  /** The container's id, unique on the host. */
  id: string;
  /** Where the container is in its lifecycle. */
  status: ContainerStatus;
  /** Host pid of the container's init; required when created or running. */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  /** The annotations of config.json. */
  annotations?: Record<string, string>;
}

/** What a state is built from. */
export interface StateFields {
  id: string;
  status: ContainerStatus;
  pid: number;
  bundle: string;
  annotations?: Record<string, string> | undefined;
}

/**
 * The state of a container, as hooks receive it on stdin and `runts state` prints it (the one
 * place the literal is built).
 */
export function ociStateOf(f: StateFields): OciState {
  return {
    ociVersion: OCI_VERSION,
    id: f.id,
    status: f.status,
    pid: f.pid,
    bundle: f.bundle,
    annotations: f.annotations ?? {},
  };
}
