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

let debugOn = false;
let logFile: string | undefined;
let logJson = false;

/** Turns debug lines on (`--debug`). */
export function setDebug(on: boolean): void {
  debugOn = on;
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
  if (debugOn) writeLog("debug", msg);
}
