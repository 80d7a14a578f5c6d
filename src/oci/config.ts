/**
 * Reading a bundle's config.json: JSON syntax errors with line and column, and a validation
 * pass that names the exact field path of every problem (`process.rlimits[1].type`). Unknown
 * fields are kept as they are; `null` in an optional known field is treated as absent and
 * removed.
 * @module
 */
import { isAbsolute, join, resolve } from "../path.ts";
import { SpecError } from "./errors.ts";
import {
  HOOK_NAMES,
  type LinuxNamespaceType,
  NAMESPACE_TYPES,
  type Process,
  RLIMIT_TYPES,
  type Spec,
} from "./spec.ts";

/** What {@linkcode loadBundle} returns. */
export interface Bundle {
  /** Absolute path of the bundle directory. */
  bundle: string;
  /** The validated config.json. */
  spec: Spec;
  /** Absolute, symlink-free path of the root filesystem (root.path resolved in the bundle). */
  rootfs: string;
}

/**
 * Parses and validates a config.json document.
 *
 * @param text The JSON text.
 * @param file The name used in error messages (the bundle's config.json path).
 * @throws {SpecError} naming the file and the field path (or the line and column of a JSON
 * syntax error).
 * @example
 * ```ts
 * const spec = parseSpec(Deno.readTextFileSync("config.json"));
 * ```
 */
export function parseSpec(text: string, file = "config.json"): Spec {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw syntaxError(text, file, e);
  }
  new Checker(file).spec(doc);
  return doc as Spec;
}

/**
 * Parses and validates a process.json (`runts exec --process`): the `process` object of the
 * spec, with errors naming the file and the field.
 */
export function parseProcess(text: string, file: string): Process {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw syntaxError(text, file, e);
  }
  new Checker(file).process(doc, "process");
  return doc as Process;
}

/**
 * Reads and validates `<bundle>/config.json` and checks that the root filesystem is a directory.
 *
 * @throws {Error} `bundle "/x": no such directory`, `bundle "/x": config.json not found`,
 * `rootfs "/x/rootfs": no such directory`, and {@linkcode SpecError} for config problems.
 */
export function loadBundle(bundle: string): Bundle {
  const abs = resolve(bundle);
  const q = JSON.stringify(abs);
  try {
    if (!Deno.statSync(abs).isDirectory) throw new Error(`bundle ${q}: not a directory`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`bundle ${q}: no such directory`);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`bundle ${q}: permission denied`);
    }
    throw e;
  }
  const file = join(abs, "config.json");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`bundle ${q}: config.json not found`);
    if (e instanceof Deno.errors.IsADirectory) {
      throw new Error(`bundle ${q}: config.json is a directory`);
    }
    throw new Error(`bundle ${q}: reading config.json: ${(e as Error).message}`);
  }
  const spec = parseSpec(text, file);
  const root = resolve(abs, spec.root!.path);
  const rq = JSON.stringify(root);
  let rootfs: string;
  try {
    rootfs = Deno.realPathSync(root);
    if (!Deno.statSync(rootfs).isDirectory) throw new Error(`rootfs ${rq}: not a directory`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`rootfs ${rq}: no such directory`);
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`rootfs ${rq}: permission denied`);
    }
    throw e;
  }
  return { bundle: abs, spec, rootfs };
}

// ---------------------------------------------------------------------------------------------
// JSON syntax errors

function syntaxError(text: string, file: string, e: unknown): SpecError {
  const raw = e instanceof Error ? e.message : String(e);
  let reason = raw
    .replace(/ in JSON at position \d+.*$/s, "")
    .replace(/, (\.\.\.)?".*" is not valid JSON$/s, "");
  const m = / at position (\d+)/.exec(raw);
  let pos = m ? Number(m[1]) : undefined;
  if (pos === undefined) pos = /end of JSON input/.test(raw) ? text.length : jsonErrorOffset(text);
  reason = reason.charAt(0).toLowerCase() + reason.slice(1);
  if (pos === undefined) return new SpecError("", `invalid JSON: ${reason}`, file);
  const at = lineColumn(text, pos);
  return new SpecError(
    "",
    `invalid JSON at line ${at.line}, column ${at.column}: ${reason}`,
    file,
    at,
  );
}

/** 1-based line and column (in UTF-16 code units) of an offset. */
function lineColumn(text: string, pos: number): { line: number; column: number } {
  const before = text.slice(0, pos);
  const nl = before.lastIndexOf("\n");
  return { line: before.split("\n").length, column: pos - nl };
}

/**
 * Offset of the first JSON syntax error, for V8 messages that carry no position
 * ("Unexpected token '}', ... is not valid JSON"). A small recursive-descent scanner.
 */
function jsonErrorOffset(s: string): number | undefined {
  let i = 0;
  const ws = () => {
    while (i < s.length && " \t\n\r".includes(s[i]!)) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const lit = (w: string) => {
    if (s.startsWith(w, i)) i += w.length;
    else fail();
  };
  const str = () => {
    i++;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        if (s[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) fail();
          i += 5;
        } else if (s[i] !== undefined && '"\\/bfnrt'.includes(s[i]!)) i++;
        else fail();
      } else i++;
    }
    fail();
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(s.slice(i));
    if (!m) fail();
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = s[i];
    if (c === "{") {
      i++;
      ws();
      if (s[i] === "}") return void i++;
      for (;;) {
        ws();
        if (s[i] !== '"') fail();
        str();
        ws();
        if (s[i] !== ":") fail();
        i++;
        value();
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === "}") return void i++;
        else fail();
      }
    } else if (c === "[") {
      i++;
      ws();
      if (s[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (s[i] === ",") i++;
        else if (s[i] === "]") return void i++;
        else fail();
      }
    } else if (c === '"') str();
    else if (c === "t") lit("true");
    else if (c === "f") lit("false");
    else if (c === "n") lit("null");
    else if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) num();
    else fail();
  };
  try {
    value();
    ws();
    return i < s.length ? i : undefined;
  } catch (pos) {
    if (typeof pos === "number") return pos;
    throw pos;
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

type Obj = Record<string, unknown>;

const IDENT = /^[A-Za-z_$][\w$]*$/;
const SEMVER = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const CAP_NAME = /^CAP_[A-Z0-9_]+$/;
const CAP_SETS = ["bounding", "effective", "inheritable", "permitted", "ambient"] as const;
const UINT32_MAX = 0xffff_ffff;
const PROPAGATIONS = [
  "private",
  "rprivate",
  "shared",
  "rshared",
  "slave",
  "rslave",
  "unbindable",
  "runbindable",
];
const SCHED_POLICIES = [
  "SCHED_OTHER",
  "SCHED_FIFO",
  "SCHED_RR",
  "SCHED_BATCH",
  "SCHED_ISO",
  "SCHED_IDLE",
  "SCHED_DEADLINE",
];
const IOPRIO_CLASSES = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];
const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];
const SECCOMP_OPS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];
const TIME_CLOCKS = ["monotonic", "boottime"];

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A short, quoted rendering of a JSON value for messages. */
function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") {
    return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  }
  return String(v);
}

function key(path: string, k: string): string {
  const part = IDENT.test(k) ? k : `[${JSON.stringify(k)}]`;
  if (path === "") return part;
  return part.startsWith("[") ? `${path}${part}` : `${path}.${part}`;
}

function oneOf(list: readonly string[]): string {
  return list.map((s) => JSON.stringify(s)).join(", ");
}

/** Walks a parsed config.json, throwing a SpecError at the first problem. */
class Checker {
  readonly #file: string;

  constructor(file: string) {
    this.#file = file;
  }

  fail(path: string, reason: string): never {
    throw new SpecError(path, reason, this.#file);
  }

  obj(v: unknown, p: string): Obj {
    if (!isObj(v)) this.fail(p, `must be an object, not ${describe(v)}`);
    return v;
  }

  str(v: unknown, p: string): string {
    if (typeof v !== "string") this.fail(p, `must be a string, not ${describe(v)}`);
    return v;
  }

  bool(v: unknown, p: string): boolean {
    if (typeof v !== "boolean") this.fail(p, `must be a boolean, not ${describe(v)}`);
    return v;
  }

  int(v: unknown, p: string, min = -Infinity, max = Infinity): number {
    if (typeof v !== "number" || !Number.isInteger(v)) {
      this.fail(p, `must be an integer, not ${describe(v)}`);
    }
    if (min === 1 && max === Infinity && v < 1) this.fail(p, "must be > 0");
    if (v < min || v > max) {
      const range = max === Infinity ? `>= ${min}` : `between ${min} and ${max}`;
      this.fail(p, `must be ${range}, not ${v}`);
    }
    return v;
  }

  arr(v: unknown, p: string): unknown[] {
    if (!Array.isArray(v)) this.fail(p, `must be an array, not ${describe(v)}`);
    return v;
  }

  abs(v: unknown, p: string): string {
    const s = this.str(v, p);
    if (!isAbsolute(s)) this.fail(p, `must be an absolute path, not ${describe(s)}`);
    return s;
  }

  enumStr(v: unknown, p: string, list: readonly string[], what: string): string {
    const s = this.str(v, p);
    if (!list.includes(s)) this.fail(p, `unknown ${what} ${describe(s)} (known: ${oneOf(list)})`);
    return s;
  }

  strs(v: unknown, p: string, each?: (s: string, p: string) => void): string[] {
    const a = this.arr(v, p);
    a.forEach((x, i) => {
      const s = this.str(x, `${p}[${i}]`);
      each?.(s, `${p}[${i}]`);
    });
    return a as string[];
  }

  /** Runs fn on o[k] when present; a null value counts as absent and is removed. */
  opt(o: Obj, k: string, p: string, fn: (v: unknown, p: string) => unknown): void {
    const v = o[k];
    if (v === null) delete o[k];
    else if (v !== undefined) fn(v, key(p, k));
  }

  req(o: Obj, k: string, p: string, fn: (v: unknown, p: string) => unknown): void {
    const v = o[k];
    if (v === undefined || v === null) this.fail(key(p, k), "is required");
    fn(v, key(p, k));
  }

  /** Object whose values all go through fn. */
  map(v: unknown, p: string, fn: (v: unknown, p: string) => unknown): void {
    const o = this.obj(v, p);
    for (const [k, x] of Object.entries(o)) fn(x, key(p, k));
  }

  envEntry = (s: string, p: string): void => {
    if (s.indexOf("=") < 1) this.fail(p, `must be of the form "KEY=value", not ${describe(s)}`);
  };

  spec(doc: unknown): void {
    if (!isObj(doc)) this.fail("", `must be a JSON object, not ${describe(doc)}`);
    this.req(doc, "ociVersion", "", (v, p) => this.ociVersion(v, p));
    this.req(doc, "root", "", (v, p) => this.root(v, p));
    this.opt(doc, "process", "", (v, p) => this.process(v, p));
    this.opt(doc, "hostname", "", (v, p) => this.str(v, p));
    this.opt(doc, "domainname", "", (v, p) => this.str(v, p));
    this.opt(
      doc,
      "mounts",
      "",
      (v, p) => this.arr(v, p).forEach((m, i) => this.mount(m, `${p}[${i}]`)),
    );
    this.opt(doc, "hooks", "", (v, p) => this.hooks(v, p));
    this.opt(doc, "annotations", "", (v, p) => this.map(v, p, (x, q) => this.str(x, q)));
    this.opt(doc, "linux", "", (v, p) => this.linux(v, p));
    for (const k of ["windows", "solaris", "vm", "zos", "freebsd"]) {
      this.opt(doc, k, "", (v, p) => this.obj(v, p));
    }
  }

  ociVersion(v: unknown, p: string): void {
    const s = this.str(v, p);
    const m = SEMVER.exec(s);
    if (!m) this.fail(p, `must be a SemVer version like "1.2.0", not ${describe(s)}`);
    if (m[1] !== "1") this.fail(p, `version ${describe(s)} is not supported (runts supports 1.x)`);
  }

  root(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.req(o, "path", p, (x, q) => {
      if (this.str(x, q) === "") this.fail(q, "must not be empty");
    });
    this.opt(o, "readonly", p, (x, q) => this.bool(x, q));
  }

  process(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.opt(o, "terminal", p, (x, q) => this.bool(x, q));
    this.opt(o, "consoleSize", p, (x, q) => {
      const c = this.obj(x, q);
      this.req(c, "height", q, (y, r) => this.int(y, r, 0, UINT32_MAX));
      this.req(c, "width", q, (y, r) => this.int(y, r, 0, UINT32_MAX));
    });
    this.opt(o, "user", p, (x, q) => this.user(x, q));
    this.req(o, "args", p, (x, q) => {
      if (this.strs(x, q).length === 0) this.fail(q, "must not be empty");
    });
    this.opt(o, "commandLine", p, (x, q) => this.str(x, q));
    this.opt(o, "env", p, (x, q) => this.strs(x, q, this.envEntry));
    this.req(o, "cwd", p, (x, q) => this.abs(x, q));
    this.opt(o, "capabilities", p, (x, q) => {
      const c = this.obj(x, q);
      for (const set of CAP_SETS) {
        this.opt(c, set, q, (y, r) =>
          this.strs(y, r, (s, sp) => {
            if (!CAP_NAME.test(s)) this.fail(sp, `must be a CAP_* name, not ${describe(s)}`);
          }));
      }
    });
    this.opt(o, "rlimits", p, (x, q) => this.rlimits(x, q));
    this.opt(o, "noNewPrivileges", p, (x, q) => this.bool(x, q));
    this.opt(o, "apparmorProfile", p, (x, q) => this.str(x, q));
    this.opt(o, "oomScoreAdj", p, (x, q) => this.int(x, q, -1000, 1000));
    this.opt(o, "selinuxLabel", p, (x, q) => this.str(x, q));
    this.opt(o, "scheduler", p, (x, q) => {
      const s = this.obj(x, q);
      this.req(s, "policy", q, (y, r) => this.enumStr(y, r, SCHED_POLICIES, "policy"));
      this.opt(s, "nice", q, (y, r) => this.int(y, r, -20, 19));
      this.opt(s, "priority", q, (y, r) => this.int(y, r));
      this.opt(s, "flags", q, (y, r) => this.strs(y, r));
      for (const k of ["runtime", "deadline", "period"]) {
        this.opt(s, k, q, (y, r) => this.int(y, r, 0));
      }
    });
    this.opt(o, "ioPriority", p, (x, q) => {
      const s = this.obj(x, q);
      this.req(s, "class", q, (y, r) => this.enumStr(y, r, IOPRIO_CLASSES, "class"));
      this.req(s, "priority", q, (y, r) => this.int(y, r, 0, 7));
    });
    this.opt(o, "execCPUAffinity", p, (x, q) => {
      const s = this.obj(x, q);
      this.opt(s, "initial", q, (y, r) => this.str(y, r));
      this.opt(s, "final", q, (y, r) => this.str(y, r));
    });
  }

  user(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.req(o, "uid", p, (x, q) => this.int(x, q, 0, UINT32_MAX));
    this.req(o, "gid", p, (x, q) => this.int(x, q, 0, UINT32_MAX));
    this.opt(o, "umask", p, (x, q) => this.int(x, q, 0, 0o777));
    this.opt(
      o,
      "additionalGids",
      p,
      (x, q) => this.arr(x, q).forEach((g, i) => this.int(g, `${q}[${i}]`, 0, UINT32_MAX)),
    );
    this.opt(o, "username", p, (x, q) => this.str(x, q));
  }

  rlimits(v: unknown, p: string): void {
    const seen = new Map<string, string>();
    this.arr(v, p).forEach((x, i) => {
      const q = `${p}[${i}]`;
      const r = this.obj(x, q);
      this.req(r, "type", q, (y, tp) => {
        const t = this.str(y, tp);
        if (!(RLIMIT_TYPES as readonly string[]).includes(t)) {
          this.fail(tp, `unknown resource ${describe(t)}`);
        }
        const prev = seen.get(t);
        if (prev !== undefined) this.fail(tp, `duplicate ${describe(t)} (also in ${prev})`);
        seen.set(t, q);
      });
      this.req(r, "hard", q, (y, hp) => this.int(y, hp, 0));
      this.req(r, "soft", q, (y, sp) => {
        const soft = this.int(y, sp, 0);
        const hard = r.hard as number;
        if (soft > hard) this.fail(sp, `must not exceed hard (${hard}), not ${soft}`);
      });
    });
  }

  idMappings(v: unknown, p: string): void {
    this.arr(v, p).forEach((x, i) => {
      const q = `${p}[${i}]`;
      const m = this.obj(x, q);
      this.req(m, "containerID", q, (y, r) => this.int(y, r, 0, UINT32_MAX));
      this.req(m, "hostID", q, (y, r) => this.int(y, r, 0, UINT32_MAX));
      this.req(m, "size", q, (y, r) => this.int(y, r, 1));
    });
  }

  mount(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.req(o, "destination", p, (x, q) => this.abs(x, q));
    this.opt(o, "type", p, (x, q) => this.str(x, q));
    this.opt(o, "source", p, (x, q) => this.str(x, q));
    this.opt(o, "options", p, (x, q) => this.strs(x, q));
    this.opt(o, "uidMappings", p, (x, q) => this.idMappings(x, q));
    this.opt(o, "gidMappings", p, (x, q) => this.idMappings(x, q));
  }

  hooks(v: unknown, p: string): void {
    const o = this.obj(v, p);
    for (const name of HOOK_NAMES) {
      this.opt(o, name, p, (x, q) =>
        this.arr(x, q).forEach((h, i) => {
          const hp = `${q}[${i}]`;
          const ho = this.obj(h, hp);
          this.req(ho, "path", hp, (y, r) => this.abs(y, r));
          this.opt(ho, "args", hp, (y, r) => this.strs(y, r));
          this.opt(ho, "env", hp, (y, r) => this.strs(y, r, this.envEntry));
          this.opt(ho, "timeout", hp, (y, r) => this.int(y, r, 1));
        }));
    }
  }

  linux(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.opt(o, "uidMappings", p, (x, q) => this.idMappings(x, q));
    this.opt(o, "gidMappings", p, (x, q) => this.idMappings(x, q));
    this.opt(o, "sysctl", p, (x, q) => this.map(x, q, (y, r) => this.str(y, r)));
    this.opt(o, "resources", p, (x, q) => this.resources(x, q));
    this.opt(o, "cgroupsPath", p, (x, q) => this.str(x, q));
    this.opt(o, "namespaces", p, (x, q) => this.namespaces(x, q));
    this.opt(
      o,
      "devices",
      p,
      (x, q) => this.arr(x, q).forEach((d, i) => this.device(d, `${q}[${i}]`)),
    );
    this.opt(o, "seccomp", p, (x, q) => this.seccomp(x, q));
    this.opt(o, "rootfsPropagation", p, (x, q) => {
      if (this.str(x, q) !== "") this.enumStr(x, q, PROPAGATIONS, "propagation");
    });
    this.opt(o, "maskedPaths", p, (x, q) => this.strs(x, q, (s, r) => this.abs(s, r)));
    this.opt(o, "readonlyPaths", p, (x, q) => this.strs(x, q, (s, r) => this.abs(s, r)));
    this.opt(o, "mountLabel", p, (x, q) => this.str(x, q));
    this.opt(o, "intelRdt", p, (x, q) => {
      const r = this.obj(x, q);
      for (const k of ["closID", "l3CacheSchema", "memBwSchema"]) {
        this.opt(r, k, q, (y, s) => this.str(y, s));
      }
      this.opt(r, "schemata", q, (y, s) => this.strs(y, s));
      for (const k of ["enableCMT", "enableMBM", "enableMonitoring"]) {
        this.opt(r, k, q, (y, s) => this.bool(y, s));
      }
    });
    this.opt(o, "personality", p, (x, q) => {
      const r = this.obj(x, q);
      this.req(r, "domain", q, (y, s) => this.enumStr(y, s, ["LINUX", "LINUX32"], "domain"));
      this.opt(r, "flags", q, (y, s) => this.strs(y, s));
    });
    this.opt(o, "timeOffsets", p, (x, q) => {
      const t = this.obj(x, q);
      for (const [clock, off] of Object.entries(t)) {
        const cp = key(q, clock);
        if (!TIME_CLOCKS.includes(clock)) {
          this.fail(cp, `unknown clock (known: ${oneOf(TIME_CLOCKS)})`);
        }
        const r = this.obj(off, cp);
        this.opt(r, "secs", cp, (y, s) => this.int(y, s));
        this.opt(r, "nanosecs", cp, (y, s) => this.int(y, s, 0, 999_999_999));
      }
    });
    this.opt(o, "memoryPolicy", p, (x, q) => {
      const r = this.obj(x, q);
      this.req(r, "mode", q, (y, s) => this.str(y, s));
      this.req(r, "nodes", q, (y, s) => this.str(y, s));
      this.opt(r, "flags", q, (y, s) => this.strs(y, s));
    });
    this.opt(o, "netDevices", p, (x, q) =>
      this.map(x, q, (y, r) => {
        const d = this.obj(y, r);
        this.opt(d, "name", r, (z, s) => this.str(z, s));
      }));
  }

  namespaces(v: unknown, p: string): void {
    const seen = new Map<string, string>();
    this.arr(v, p).forEach((x, i) => {
      const q = `${p}[${i}]`;
      const n = this.obj(x, q);
      this.req(n, "type", q, (y, tp) => {
        const t = this.str(y, tp);
        if (!NAMESPACE_TYPES.includes(t as LinuxNamespaceType)) {
          this.fail(tp, `unknown namespace type ${describe(t)} (known: ${oneOf(NAMESPACE_TYPES)})`);
        }
        const prev = seen.get(t);
        if (prev !== undefined) {
          this.fail(tp, `duplicate ${describe(t)} namespace (also in ${prev})`);
        }
        seen.set(t, q);
      });
      this.opt(n, "path", q, (y, r) => this.str(y, r));
    });
  }

  device(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.req(o, "path", p, (x, q) => this.abs(x, q));
    let type = "";
    this.req(o, "type", p, (x, q) => (type = this.enumStr(x, q, ["c", "b", "u", "p"], "type")));
    if (type === "p") {
      this.opt(o, "major", p, (x, q) => this.int(x, q, 0));
      this.opt(o, "minor", p, (x, q) => this.int(x, q, 0));
    } else {
      this.req(o, "major", p, (x, q) => this.int(x, q, 0));
      this.req(o, "minor", p, (x, q) => this.int(x, q, 0));
    }
    this.opt(o, "fileMode", p, (x, q) => this.int(x, q, 0, 0o7777));
    this.opt(o, "uid", p, (x, q) => this.int(x, q, 0, UINT32_MAX));
    this.opt(o, "gid", p, (x, q) => this.int(x, q, 0, UINT32_MAX));
  }

  seccomp(v: unknown, p: string): void {
    const o = this.obj(v, p);
    this.req(o, "defaultAction", p, (x, q) => this.enumStr(x, q, SECCOMP_ACTIONS, "action"));
    this.opt(o, "defaultErrnoRet", p, (x, q) => this.int(x, q, 0));
    this.opt(o, "architectures", p, (x, q) => this.strs(x, q));
    this.opt(o, "flags", p, (x, q) => this.strs(x, q));
    this.opt(o, "listenerPath", p, (x, q) => this.str(x, q));
    this.opt(o, "listenerMetadata", p, (x, q) => this.str(x, q));
    this.opt(o, "syscalls", p, (x, q) =>
      this.arr(x, q).forEach((y, i) => {
        const sp = `${q}[${i}]`;
        const s = this.obj(y, sp);
        this.req(s, "names", sp, (z, r) => {
          if (this.strs(z, r).length === 0) this.fail(r, "must not be empty");
        });
        this.req(s, "action", sp, (z, r) => this.enumStr(z, r, SECCOMP_ACTIONS, "action"));
        this.opt(s, "errnoRet", sp, (z, r) => this.int(z, r, 0));
        this.opt(s, "args", sp, (z, r) =>
          this.arr(z, r).forEach((a, j) => {
            const ap = `${r}[${j}]`;
            const ao = this.obj(a, ap);
            this.req(ao, "index", ap, (w, t) => this.int(w, t, 0, 5));
            this.req(ao, "value", ap, (w, t) => this.int(w, t, 0));
            this.opt(ao, "valueTwo", ap, (w, t) => this.int(w, t, 0));
            this.req(ao, "op", ap, (w, t) => this.enumStr(w, t, SECCOMP_OPS, "operator"));
          }));
      }));
  }

  resources(v: unknown, p: string): void {
    const o = this.obj(v, p);
    const ints = (x: unknown, q: string, keys: string[]) => {
      const r = this.obj(x, q);
      for (const k of keys) this.opt(r, k, q, (y, s) => this.int(y, s));
      return r;
    };
    this.opt(o, "devices", p, (x, q) =>
      this.arr(x, q).forEach((d, i) => {
        const dp = `${q}[${i}]`;
        const r = this.obj(d, dp);
        this.req(r, "allow", dp, (y, s) => this.bool(y, s));
        this.opt(r, "type", dp, (y, s) => this.enumStr(y, s, ["a", "c", "b"], "device type"));
        this.opt(r, "major", dp, (y, s) => this.int(y, s, -1));
        this.opt(r, "minor", dp, (y, s) => this.int(y, s, -1));
        // Letters other than r, w and m are ignored, as by runc ("rwa" is "rw").
        this.opt(r, "access", dp, (y, s) => {
          if (!/[rwm]/.test(this.str(y, s))) {
            this.fail(s, `must name at least one of "r", "w" and "m", not ${describe(y)}`);
          }
        });
      }));
    this.opt(o, "memory", p, (x, q) => {
      const r = ints(x, q, ["limit", "reservation", "swap", "kernel", "kernelTCP", "swappiness"]);
      for (const k of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) {
        this.opt(r, k, q, (y, s) => this.bool(y, s));
      }
    });
    this.opt(o, "cpu", p, (x, q) => {
      const keys = [
        "shares",
        "quota",
        "burst",
        "period",
        "realtimeRuntime",
        "realtimePeriod",
        "idle",
      ];
      const r = ints(x, q, keys);
      this.opt(r, "cpus", q, (y, s) => this.str(y, s));
      this.opt(r, "mems", q, (y, s) => this.str(y, s));
    });
    this.opt(o, "pids", p, (x, q) => {
      const r = this.obj(x, q);
      this.req(r, "limit", q, (y, s) => this.int(y, s));
    });
    this.opt(o, "blockIO", p, (x, q) => {
      const r = ints(x, q, ["weight", "leafWeight"]);
      const devs = [
        "weightDevice",
        "throttleReadBpsDevice",
        "throttleWriteBpsDevice",
        "throttleReadIOPSDevice",
        "throttleWriteIOPSDevice",
      ];
      for (const k of devs) {
        this.opt(r, k, q, (y, s) =>
          this.arr(y, s).forEach((d, i) => {
            const dp = `${s}[${i}]`;
            const dev = ints(d, dp, ["weight", "leafWeight", "rate"]);
            this.req(dev, "major", dp, (z, t) => this.int(z, t, 0));
            this.req(dev, "minor", dp, (z, t) => this.int(z, t, 0));
          }));
      }
    });
    this.opt(o, "hugepageLimits", p, (x, q) =>
      this.arr(x, q).forEach((h, i) => {
        const hp = `${q}[${i}]`;
        const r = this.obj(h, hp);
        this.req(r, "pageSize", hp, (y, s) => this.str(y, s));
        this.req(r, "limit", hp, (y, s) => this.int(y, s));
      }));
    this.opt(o, "network", p, (x, q) => {
      const r = ints(x, q, ["classID"]);
      this.opt(r, "priorities", q, (y, s) =>
        this.arr(y, s).forEach((e, i) => {
          const ep = `${s}[${i}]`;
          const pr = this.obj(e, ep);
          this.req(pr, "name", ep, (z, t) => this.str(z, t));
          this.req(pr, "priority", ep, (z, t) => this.int(z, t));
        }));
    });
    this.opt(
      o,
      "rdma",
      p,
      (x, q) => this.map(x, q, (y, s) => ints(y, s, ["hcaHandles", "hcaObjects"])),
    );
    this.opt(o, "unified", p, (x, q) => this.map(x, q, (y, s) => this.str(y, s)));
  }
}
