/**
 * The command-line machinery driven by the definitions in defs.ts: the flag parser, the one
 * wording of usage errors (with a did-you-mean), and the `--help` text. Pure: no I/O, no import
 * of any command's implementation, so `main.ts` stays cheap to load.
 *
 * Why not `node:util` `parseArgs`: runc's callers pass values that start with a dash
 * (`update --memory-swap -1`), single-dash long flags (`-bundle`, urfave/cli's), and commands
 * whose arguments after the container id belong to someone else (`exec ID sh -c ...`,
 * `ps ID -e -x`). parseArgs refuses the first, does not know the second and cannot stop at the
 * first positional, so each of those commands had its own loop and its own error wording. This
 * parser does all three from the definition, in one place.
 * @module
 */

/** The kind of value a flag takes. `strings` may be repeated and collects every value. */
export type FlagType = "boolean" | "string" | "strings";

/** One flag of a command (or of the global table). */
export interface FlagDef {
  /** Long name without dashes (`bundle`). */
  name: string;
  /** One-letter alias without the dash (`b`). */
  short?: string;
  /** Kind of value. */
  type: FlagType;
  /** Placeholder of the value in help text (`DIR`); string flags only. */
  value?: string;
  /** Default value (shown in help, filled in by the parser). */
  default?: string | boolean;
  /** One-line help text. */
  help: string;
  /** How the command reads a string value (`int`, `uint`, `size`): for its own checks. */
  kind?: "int" | "uint" | "size";
  /** Accepted for runc compatibility but not shown in help (still in completion). */
  hidden?: boolean;
}

/** The values of parsed flags, by long name. */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Parsing rules of a command; the part of a definition the parser needs. */
export interface ParseDef {
  /** Command name (for messages). */
  name: string;
  /** Its flags. */
  flags: readonly FlagDef[];
  /** Fewest positional arguments. */
  minArgs: number;
  /** Most positional arguments (Infinity: no limit). */
  maxArgs: number;
  /** Usage of the positional arguments, as in help (`<container-id> [signal]`). */
  args: string;
  /** The first positional ends the flags: what follows is passed on as is (exec, ps). */
  stopAtFirstArg?: boolean;
}

/** The result of parsing a command's arguments. */
export interface Parsed {
  /** Flag values by long name, defaults filled in. */
  values: FlagValues;
  /** Positional arguments (with stopAtFirstArg: the first one and everything after it). */
  positionals: string[];
  /** `--help` or `-h` was given. */
  help: boolean;
}

/** A mistake on the command line: exit status 1 and a pointer at the help. */
export class UsageError extends Error {
  /** The command whose help to point at ("" for runts itself). */
  readonly command: string;
  constructor(command: string, message: string) {
    const see = command === "" ? "runts --help" : `runts ${command} --help`;
    super(`${command === "" ? "" : `${command}: `}${message}; see '${see}'`);
    this.name = "UsageError";
    this.command = command;
  }
}

/** Levenshtein distance between two short strings. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      // transposition counts as one edit ("strat" → "start")
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + cost);
      if (
        cost && i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]
      ) prev[j] = Math.min(prev[j]!, diag);
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The candidate nearest to `word`, when it is a near miss (a third of its length or less). */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 2 ? 1 : editDistance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function lookup(flags: readonly FlagDef[], name: string): FlagDef | undefined {
  return flags.find((f) => f.name === name) ?? flags.find((f) => f.short === name);
}

/** `unknown flag "--x"`, with the nearest flag name when there is one. */
export function unknownFlag(def: Pick<ParseDef, "name" | "flags">, arg: string): UsageError {
  const word = arg.replace(/^--?/, "").replace(/=.*$/s, "");
  const near = didYouMean(word, def.flags.map((f) => f.name));
  const hint = near === undefined ? "" : ` (did you mean "--${near}"?)`;
  const what = def.name === "" ? "global flag" : "flag";
  return new UsageError(def.name, `unknown ${what} ${JSON.stringify(arg)}${hint}`);
}

/**
 * Parses argv by a definition. Flags: `--name`, `--name=value`, `--name value`, `-name`
 * (single-dash long), `-x`, `-xVALUE`; a value may start with a dash; `--` ends the flags.
 * With stopAtFirstArg, the first positional and everything after it are positionals.
 *
 * @throws {UsageError} unknown flag, missing value, wrong number of arguments.
 */
export function parseFlags(def: ParseDef, argv: readonly string[]): Parsed {
  const values: FlagValues = {};
  const positionals: string[] = [];
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      i = argv.length;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (def.stopAtFirstArg) break;
      positionals.push(arg);
      continue;
    }
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    let name = m?.[1] ?? "";
    let inline = m?.[2];
    let f = lookup(def.flags, name);
    if (f === undefined && !arg.startsWith("--") && name.length > 1) {
      // -bVALUE: a short string flag with its value attached
      const s = lookup(def.flags, name[0]!);
      if (s !== undefined && s.short === name[0] && s.type !== "boolean" && inline === undefined) {
        [f, inline, name] = [s, name.slice(1), name[0]!];
      }
    }
    if (f === undefined) {
      if (name === "help" || name === "h") {
        help = true;
        continue;
      }
      throw unknownFlag(def, arg);
    }
    if (f.type === "boolean") {
      if (inline === undefined || inline === "true") values[f.name] = true;
      else if (inline === "false") values[f.name] = false;
      else {
        throw new UsageError(
          def.name,
          `flag "--${f.name}" takes no value (got ${JSON.stringify(inline)})`,
        );
      }
      continue;
    }
    const v = inline ?? argv[++i];
    if (v === undefined) throw new UsageError(def.name, `flag "--${f.name}" needs a value`);
    if (f.type === "strings") values[f.name] = [...((values[f.name] as string[]) ?? []), v];
    else values[f.name] = v;
  }
  positionals.push(...argv.slice(i));
  for (const f of def.flags) {
    if (values[f.name] === undefined) {
      if (f.default !== undefined) values[f.name] = f.default;
      else if (f.type === "boolean") values[f.name] = false;
      else if (f.type === "strings") values[f.name] = [];
    }
  }
  if (!help && (positionals.length < def.minArgs || positionals.length > def.maxArgs)) {
    throw new UsageError(def.name, arityMessage(def, positionals.length));
  }
  return { values, positionals, help };
}

function arityMessage(def: ParseDef, n: number): string {
  if (def.minArgs === 1 && def.maxArgs === 1 && def.args === "<container-id>") {
    return `expected one container id, got ${n}`;
  }
  if (n < def.minArgs && def.args.startsWith("<container-id>")) {
    return "container id is required";
  }
  return `expected ${def.args || "no arguments"}, got ${n} argument${n === 1 ? "" : "s"}`;
}

/** What help text is made from: a command definition without its loader. */
export interface HelpDef extends ParseDef {
  /** One-line summary. */
  summary: string;
  /** Longer description (paragraphs separated by blank lines). */
  description?: string;
  /** Example command lines (with a `# comment` each, optionally). */
  examples: readonly string[];
}

/** One flag as help shows it: `--bundle DIR, -b DIR`. */
export function flagSynopsis(f: FlagDef): string {
  const v = f.type === "boolean" ? "" : ` ${f.value ?? "VALUE"}`;
  return `--${f.name}${v}${f.short ? `, -${f.short}${v}` : ""}`;
}

/** The help line's tail: the text and the default. */
export function flagHelp(f: FlagDef): string {
  const d = f.default === undefined || f.default === false || f.default === ""
    ? ""
    : ` (default: ${f.default})`;
  return `${f.help}${d}${f.type === "strings" ? " (may be repeated)" : ""}`;
}

function table(rows: [string, string][], indent = "   "): string[] {
  const w = Math.min(32, Math.max(...rows.map((r) => r[0].length)));
  return rows.map(([a, b]) =>
    a.length > w
      ? `${indent}${a}\n${indent}${" ".repeat(w + 2)}${b}`
      : `${indent}${a.padEnd(w)}  ${b}`
  );
}

/** `runts COMMAND --help`. */
export function commandHelp(def: HelpDef): string {
  const out = [
    "NAME:",
    `   runts ${def.name} - ${def.summary}`,
    "",
    "USAGE:",
    `   runts ${def.name}${def.flags.some((f) => !f.hidden) ? " [options]" : ""}${
      def.args ? ` ${def.args}` : ""
    }`,
  ];
  if (def.description) {
    out.push("", "DESCRIPTION:", ...def.description.split("\n").map((l) => l ? `   ${l}` : ""));
  }
  const shown = def.flags.filter((f) => !f.hidden);
  const rows: [string, string][] = shown.map((f) => [flagSynopsis(f), flagHelp(f)]);
  rows.push(["--help, -h", "show this help"]);
  out.push("", "OPTIONS:", ...table(rows));
  if (def.examples.length) out.push("", "EXAMPLE:", ...def.examples.map((e) => `   ${e}`));
  return out.join("\n");
}

/** `runts --help` / `runts help`. */
export function mainHelp(
  version: string,
  globals: readonly FlagDef[],
  commands: readonly { name: string; summary: string; hidden?: boolean }[],
): string {
  return [
    "NAME:",
    "   runts - an OCI container runtime in TypeScript on Deno (runc's command line)",
    "",
    "USAGE:",
    "   runts [global options] COMMAND [command options] [arguments...]",
    "",
    "VERSION:",
    `   ${version}`,
    "",
    "COMMANDS:",
    ...table(commands.filter((c) => !c.hidden).map((c) => [c.name, c.summary])),
    "",
    "GLOBAL OPTIONS:",
    ...table(globals.filter((f) => !f.hidden).map((f) => [flagSynopsis(f), flagHelp(f)])),
    "",
    "Run 'runts help COMMAND' or 'runts COMMAND --help' for a command's options and an example.",
  ].join("\n");
}
