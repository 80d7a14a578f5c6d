/**
 * What every command receives: the global options.
 * @module
 */
import { debugLog, setLogTarget, writeLog } from "../trace.ts";

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

/** Points the log lines at --log (or stderr) in --log-format. */
export function setLog(g: GlobalOptions): void {
  setLogTarget(g.log, g.logFormat);
}

/** Appends an error to the --log file in its format (runc's JSON lines for containerd). */
export function logError(g: GlobalOptions, msg: string): void {
  if (g.log === undefined) return;
  writeLog("error", msg);
}

/** Writes a debug line when --debug is on. */
export function debug(g: GlobalOptions, msg: string): void {
  if (g.debug) debugLog(msg);
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
