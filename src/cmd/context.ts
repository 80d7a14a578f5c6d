/**
 * What every command receives: the global options.
 * @module
 */

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

/** Appends an error to the --log file in its format (runc's JSON lines for containerd). */
export function logError(g: GlobalOptions, msg: string): void {
  if (g.log === undefined) return;
  const time = new Date().toISOString();
  const line = g.logFormat === "json"
    ? JSON.stringify({ level: "error", msg, time }) + "\n"
    : `time="${time}" level=error msg=${JSON.stringify(msg)}\n`;
  try {
    Deno.writeTextFileSync(g.log, line, { append: true, create: true });
  } catch {
    // the log is best effort; the error is on stderr too
  }
}

/** Prints a debug line when --debug is on. */
export function debug(g: GlobalOptions, msg: string): void {
  if (g.debug) console.error(`runts: debug: ${msg}`);
}
