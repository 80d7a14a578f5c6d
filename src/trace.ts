/**
 * Timestamps of where a runts command spends its time, printed to stderr when RUNTS_TRACE is
 * set (`RUNTS_TRACE=1 runts run ...`): milliseconds since the process started.
 * @module
 */

const on = (() => {
  try {
    return Deno.env.get("RUNTS_TRACE") !== undefined;
  } catch {
    return false;
  }
})();

/** Records a named point in time (a no-op unless RUNTS_TRACE is set). */
export function mark(what: string): void {
  if (on) console.error(`runts: trace: ${performance.now().toFixed(1).padStart(7)} ms ${what}`);
}

let debugEnabled = false;

/** Turns debug lines on (`--debug`). */
export function setDebug(on: boolean): void {
  debugEnabled = on;
}

/** True when --debug is on. */
export function debugOn(): boolean {
  return debugEnabled;
}

/** Prints a debug line on stderr when --debug is on. */
export function debugLog(msg: string): void {
  if (debugEnabled) console.error(`runts: debug: ${msg}`);
}
