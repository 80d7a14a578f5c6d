/**
 * `--pid-file`: checked before anything is made, written (to a temporary name, then renamed)
 * once the pid is known, as runc does.
 * @module
 */
import { resolve } from "../path.ts";

/** The temporary file a pid file is written to before its rename (runc's `.NAME`). */
function pidFileTmp(path: string): string {
  const abs = resolve(path);
  const slash = abs.lastIndexOf("/");
  return `${abs.slice(0, slash)}/.${abs.slice(slash + 1)}`;
}

/** `open PATH: no such file or directory`: runc's wording of a failed open. */
function openError(path: string, e: unknown): Error {
  const reason = e instanceof Deno.errors.NotFound
    ? "no such file or directory"
    : e instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : (e as Error).message.replace(/ \(os error \d+\).*$/s, "").toLowerCase();
  return new Error(`open ${path}: ${reason}`, { cause: e });
}

/**
 * Checks, before anything is created, that a pid file can be written where it is asked for
 * (its directory exists and is writable), with runc's error text.
 */
export function checkPidFile(path: string): void {
  const tmp = pidFileTmp(path);
  const dir = tmp.slice(0, tmp.lastIndexOf("/")) || "/";
  try {
    if (!Deno.statSync(dir).isDirectory) throw new Deno.errors.NotFound();
  } catch (e) {
    throw openError(tmp, e);
  }
}

/** Writes a pid file atomically, as runc does. */
export function writePidFile(path: string, pid: number): void {
  const tmp = pidFileTmp(path);
  try {
    Deno.writeTextFileSync(tmp, String(pid));
  } catch (e) {
    throw openError(tmp, e);
  }
  Deno.renameSync(tmp, resolve(path));
}
