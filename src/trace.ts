/**
 * Timestamps of where a runts command spends its time, when RUNTS_TRACE is set: milliseconds since
 * the process started. `RUNTS_TRACE=1 runts run ...` prints them to stderr; `RUNTS_TRACE=/abs/file`
 * appends them to that file with the wall clock and the pid, from every runts process that has it
 * in its environment, the sandbox processes (a spare too) included: one timeline of a whole
 * lifecycle (`<epoch ms> <pid> <ms since start> <what>` per line).
 * @module
 */

const target = (() => {
  try {
    return Deno.env.get("RUNTS_TRACE");
  } catch {
    return undefined;
  }
})();

/** Records a named point in time (a no-op unless RUNTS_TRACE is set). */
export function mark(what: string): void {
  if (target === undefined) return;
  const now = performance.now();
  if (!target.startsWith("/")) {
    console.error(`runts: trace: ${now.toFixed(1).padStart(7)} ms ${what}`);
    return;
  }
  const line = `${(performance.timeOrigin + now).toFixed(1)} ${Deno.pid} ${
    now.toFixed(1)
  } ${what}\n`;
  try {
    Deno.writeTextFileSync(target, line, { append: true });
  } catch {
    // a trace is no reason to fail
  }
}

let debugEnabled = false;
let logFile: string | undefined;
let logJson = false;

/** Turns debug lines on (`--debug`). */
export function setDebug(on: boolean): void {
  debugEnabled = on;
}

/** True when --debug is on. */
export function debugOn(): boolean {
  return debugEnabled;
}

/** Where log lines go (`--log FILE`, else stderr) and in which form (`--log-format`). */
export function setLogTarget(file: string | undefined, format: "text" | "json"): void {
  logFile = file;
  logJson = format === "json";
}

/**
 * One log line as runc writes it: `time="..." level=debug msg="..."` (logrus text), or
 * `{"level":"debug","msg":"...","time":"..."}` with `--log-format json`.
 */
export function logLine(level: string, msg: string, time: Date = new Date()): string {
  const t = time.toISOString().replace(/\.\d{3}Z$/, "Z"); // runc (logrus) gives seconds
  return logJson
    ? JSON.stringify({ level, msg, time: t })
    : `time="${t}" level=${level} msg=${JSON.stringify(msg)}`;
}

/** Writes a log line to the --log file (appending) or, without one, to stderr. */
export function writeLog(level: string, msg: string): void {
  const line = logLine(level, msg) + "\n";
  if (logFile === undefined) {
    Deno.stderr.writeSync(new TextEncoder().encode(line));
    return;
  }
  try {
    Deno.writeTextFileSync(logFile, line, { append: true, create: true });
  } catch {
    // the log is best effort
  }
}

/** Writes a debug line (level=debug) when --debug is on. */
export function debugLog(msg: string): void {
  if (debugEnabled) writeLog("debug", msg);
}
