/**
 * What every command receives: the global options.
 * @module
 */
import { inUserNamespace } from "../../ffi/userns.ts";
import { setLogTarget, writeLog } from "../trace.ts";

import type { Platform } from "../kvm/platform.ts";

/** Global options (runc's global flags). */
export interface GlobalOptions {
  /** State root, default /run/runts. */
  root: string;
  /** --log FILE. */
  log?: string;
  /** --log-format. */
  logFormat: "text" | "json";
  /** --debug. */
  debug: boolean;
  /** --platform (absent: the annotation decides, else native). */
  platform?: Platform;
  /** --systemd-cgroup: cgroups are transient systemd scopes (cgroupsPath slice:prefix:name). */
  systemdCgroup?: boolean;
  /** Accepted-and-ignored runc flags that were given. */
  ignored: string[];
  /** --version. */
  version?: boolean;
  /** --help. */
  help?: boolean;
}

/**
 * Points the log lines at --log (or stderr) in --log-format. The file is opened (created) once
 * here, as runc does: a --log that cannot be written fails the command at once rather than
 * losing its lines.
 * @throws {Error} `--log: ...` naming the file and the reason
 */
export function setLog(g: GlobalOptions): void {
  if (g.log !== undefined) {
    try {
      Deno.openSync(g.log, { append: true, create: true, mode: 0o644 }).close();
    } catch (e) {
      delete g.log; // the error goes to stderr alone
      throw new Error(`--log: ${(e as Error).message}`);
    }
  }
  setLogTarget(g.log, g.logFormat);
}

/** Appends an error to the --log file in its format (runc's JSON lines for containerd). */
export function logError(g: GlobalOptions, msg: string): void {
  if (g.log === undefined) return;
  writeLog("error", msg);
}

/** An error that ends the command with a given exit status (runc's 255 for exec's failures). */
export class ExitError extends Error {
  /** The exit status. */
  readonly status: number;
  constructor(status: number, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "ExitError";
    this.status = status;
  }
}

/** Where root keeps container state by default (runc's is /run/runc). */
export const ROOT_STATE_DIR = "/run/runts";

/** Who asks for the default state directory (defaultRoot's inputs; default: this process). */
export interface RootCaller {
  /** Effective uid. */
  uid: number;
  /** $XDG_RUNTIME_DIR. */
  xdgRuntimeDir: string | undefined;
  /** Runs in a user namespace (rootless podman runs the runtime as its uid 0). */
  userNs: boolean;
  /** $USER. */
  user: string | undefined;
}

/** This process as a caller, but for userNs: a /proc read, made only when it decides. */
function thisCaller(): Omit<RootCaller, "userNs"> {
  return {
    uid: Deno.uid() ?? 0,
    xdgRuntimeDir: Deno.env.get("XDG_RUNTIME_DIR"),
    user: Deno.env.get("USER"),
  };
}

/**
 * The default state directory (`--root`): /run/runts for root; `$XDG_RUNTIME_DIR/runts` (as
 * runc uses `$XDG_RUNTIME_DIR/runc`) for any other user, and for root of a user namespace that
 * has XDG_RUNTIME_DIR and is not `USER=root` (rootless podman's conmon calls the runtime so).
 * The directory is created 0700 when state is first written.
 *
 * @throws {Error} for a non-root caller without XDG_RUNTIME_DIR, naming the variable and --root.
 */
export function defaultRoot(caller: Partial<RootCaller> = {}): string {
  const c: Partial<RootCaller> & Omit<RootCaller, "userNs"> = { ...thisCaller(), ...caller };
  const xdg = c.xdgRuntimeDir === "" ? undefined : c.xdgRuntimeDir;
  if (c.uid === 0 && (xdg === undefined || c.user === "root" || !(c.userNs ?? inUserNamespace()))) {
    return ROOT_STATE_DIR;
  }
  if (xdg === undefined) {
    throw new Error(
      `XDG_RUNTIME_DIR is not set: a non-root user (uid ${c.uid}) keeps container state in $XDG_RUNTIME_DIR/runts; set it or give --root DIR`,
    );
  }
  if (!xdg.startsWith("/")) {
    throw new Error(
      `XDG_RUNTIME_DIR ${JSON.stringify(xdg)} is not an absolute path; fix it or give --root DIR`,
    );
  }
  return `${xdg.replace(/\/+$/, "")}/runts`;
}

/**
 * Refuses a state directory that belongs to another user when the caller is not root: its
 * containers are not the caller's, and their control sockets would refuse it anyway.
 *
 * @throws {Error} naming the directory, its owner and the caller.
 */
export function checkRootOwner(root: string, uid: number = Deno.uid() ?? 0): void {
  if (uid === 0) return;
  let owner: number | null;
  try {
    owner = Deno.statSync(root).uid;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`state directory ${JSON.stringify(root)}: permission denied for uid ${uid}`);
    }
    throw e;
  }
  if (owner !== null && owner !== uid) {
    throw new Error(
      `state directory ${
        JSON.stringify(root)
      } is owned by uid ${owner}, not by the caller (uid ${uid}); use your own --root`,
    );
  }
}
