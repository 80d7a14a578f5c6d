/**
 * Man pages (runts.8, runts-COMMAND.8) and the bash completion script, made from the command
 * definitions (defs.ts). `deno task docs` writes them to docs/man and docs/completion; a test
 * checks the files there match.
 * @module
 */
import { type FlagDef, flagHelp } from "./cli.ts";
import { type CommandDef, COMMANDS, GLOBAL_FLAGS } from "./defs.ts";
import { VERSION } from "../version.ts";

/** Escapes text for roff: backslashes, leading dots and quotes, hyphens in options. */
function roff(s: string): string {
  return s.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^([.'])/gm, "\\&$1");
}

function manFlag(f: FlagDef): string[] {
  const v = f.type === "boolean" ? "" : ` \\fI${roff(f.value ?? "VALUE")}\\fR`;
  const names = [`\\fB\\-\\-${roff(f.name)}\\fR${v}`];
  if (f.short) names.push(`\\fB\\-${f.short}\\fR${v}`);
  return [".TP", names.join(", "), roff(flagHelp(f))];
}

function header(name: string, summary: string): string[] {
  return [
    `.TH ${name.toUpperCase()} 8 "" "runts ${VERSION}" "System Administration"`,
    ".SH NAME",
    `${roff(name)} \\- ${roff(summary)}`,
  ];
}

/** The visible commands (boot is internal). */
export function visibleCommands(): CommandDef[] {
  return COMMANDS.filter((c) => !c.hidden);
}

/** runts.8: the global options and the list of commands. */
export function mainManPage(): string {
  const lines = [
    ...header("runts", "an OCI container runtime (runc's command line)"),
    ".SH SYNOPSIS",
    "\\fBrunts\\fR [\\fIglobal options\\fR] \\fICOMMAND\\fR [\\fIcommand options\\fR] [\\fIarguments\\fR...]",
    ".SH DESCRIPTION",
    "runts creates and runs containers from OCI bundles. Each command has its own page,",
    "\\fBrunts\\-\\fICOMMAND\\fR(8), and answers \\fB\\-\\-help\\fR.",
    ".SH GLOBAL OPTIONS",
    ...GLOBAL_FLAGS.filter((f) => !f.hidden).flatMap(manFlag),
    ".SH COMMANDS",
    ...visibleCommands().flatMap((c) => [".TP", `\\fB${roff(c.name)}\\fR`, roff(c.summary)]),
    ".SH SEE ALSO",
    visibleCommands().map((c) => `\\fBrunts\\-${roff(c.name)}\\fR(8)`)
      .join(", "),
  ];
  return lines.join("\n") + "\n";
}

/** runts-COMMAND.8. */
export function commandManPage(c: CommandDef): string {
  const lines = [
    ...header(`runts-${c.name}`, c.summary),
    ".SH SYNOPSIS",
    `\\fBrunts ${roff(c.name)}\\fR${c.flags.some((f) => !f.hidden) ? " [\\fIoptions\\fR]" : ""}${
      c.args ? ` \\fI${roff(c.args)}\\fR` : ""
    }`,
    ".SH DESCRIPTION",
    roff(c.summary.charAt(0).toUpperCase() + c.summary.slice(1)) + ".",
  ];
  if (c.description) lines.push(".PP", roff(c.description));
  const shown = c.flags.filter((f) => !f.hidden);
  lines.push(".SH OPTIONS", ...shown.flatMap(manFlag), ".TP", "\\fB\\-\\-help\\fR, \\fB\\-h\\fR");
  lines.push("show the command's help");
  if (c.examples.length) {
    lines.push(".SH EXAMPLE", ".nf", ...c.examples.map(roff), ".fi");
  }
  lines.push(".SH SEE ALSO", "\\fBrunts\\fR(8)");
  return lines.join("\n") + "\n";
}

function words(flags: readonly FlagDef[]): string {
  return flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]).join(" ");
}

function valueFlags(flags: readonly FlagDef[]): string {
  return flags.filter((f) => f.type !== "boolean")
    .flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]).join("|");
}

/** The bash completion script: commands, then each command's flags. */
export function bashCompletion(): string {
  const cmds = visibleCommands();
  const cases = cmds.map((c) => {
    const flags = [...c.flags, { name: "help", short: "h", type: "boolean", help: "" } as FlagDef];
    const takes = valueFlags(c.flags);
    return [
      `    ${c.name})`,
      `      opts="${words(flags)}"`,
      `      vals="${takes}"`,
      "      ;;",
    ].join("\n");
  }).join("\n");
  return `# bash completion for runts ${VERSION} (made by \`deno task docs\` from src/cmd/defs.ts)
_runts() {
  local cur prev cmd i opts vals
  cur=\${COMP_WORDS[COMP_CWORD]}
  prev=\${COMP_WORDS[COMP_CWORD-1]}
  cmd=
  for ((i = 1; i < COMP_CWORD; i++)); do
    case \${COMP_WORDS[i]} in
      ${valueFlags(GLOBAL_FLAGS)}) ((i++)) ;;
      -*) ;;
      *) cmd=\${COMP_WORDS[i]}; break ;;
    esac
  done
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "${words(GLOBAL_FLAGS)} --help -h" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "${cmds.map((c) => c.name).join(" ")}" -- "$cur"))
    fi
    return
  fi
  case $cmd in
${cases}
    *) return ;;
  esac
  if [[ -n $vals && $prev == @($vals) ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $cmd == help ]]; then
    COMPREPLY=($(compgen -W "${cmds.map((c) => c.name).join(" ")}" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$(runts list -q 2>/dev/null)" -- "$cur"))
  fi
}
shopt -s extglob
complete -F _runts runts
`;
}

/** Every generated file: path relative to the repository → content. */
export function generatedDocs(): Map<string, string> {
  const m = new Map<string, string>();
  m.set("docs/man/runts.8", mainManPage());
  for (const c of visibleCommands()) m.set(`docs/man/runts-${c.name}.8`, commandManPage(c));
  m.set("docs/completion/runts.bash", bashCompletion());
  return m;
}
