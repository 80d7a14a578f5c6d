/**
 * The one definition of runts' command line: the global flags and, per command, its summary,
 * usage, flags (type, default, help), an example, and a loader that imports the command's
 * module only when it runs. The parser, `--help`, `runts help`, the man pages and the bash
 * completion are all made from this table (cli.ts, docs.ts); nothing else lists flags.
 *
 * To add a global flag, add a row to GLOBAL_FLAGS and read it in main.ts's parseGlobal. To add
 * a command, add a CommandDef; its module exports `main(g, parsed)`.
 * @module
 */
import { type FlagDef, type HelpDef, type Parsed, parseFlags } from "./cli.ts";
import type { GlobalOptions } from "./context.ts";

/** A command's entry point: the global options and its arguments (after the name). */
export type Runner = (g: GlobalOptions, argv: string[]) => Promise<number | void>;

/** One command. */
export interface CommandDef extends HelpDef {
  /** Internal commands (boot) are left out of help, man pages and completion. */
  hidden?: boolean;
  /** Needs no state directory (--root is neither defaulted nor checked). */
  stateless?: boolean;
  /** Imports the command's module (lazily: only the command that runs is loaded). */
  load: () => Promise<Runner>;
}

/** The global flags (runc's), before the command. */
export const GLOBAL_FLAGS: FlagDef[] = [
  {
    name: "root",
    type: "string",
    value: "DIR",
    help: "directory holding the state of containers (default /run/runts; for other users " +
      "$XDG_RUNTIME_DIR/runts)",
  },
  {
    name: "log",
    type: "string",
    value: "FILE",
    help: "write errors and debug lines to FILE instead of stderr",
  },
  {
    name: "log-format",
    type: "string",
    value: "text|json",
    default: "text",
    help: "format of log lines",
  },
  { name: "debug", type: "boolean", help: "print debug lines (level=debug)" },
  { name: "version", short: "v", type: "boolean", help: "print the version" },
  {
    name: "systemd-cgroup",
    type: "boolean",
    help: 'cgroups through systemd (cgroupsPath "slice:prefix:name")',
  },
  {
    name: "platform",
    type: "string",
    value: "native|kvm",
    help: "how sandboxes run containers (kvm: /dev/kvm is handed to the sandbox process; " +
      "the annotation dev.runts.platform too)",
  },
  {
    name: "criu",
    type: "string",
    value: "PATH",
    help: "accepted for runc compatibility",
    hidden: true,
  },
  {
    name: "rootless",
    type: "string",
    value: "true|false|auto",
    help: "accepted for runc compatibility",
    hidden: true,
  },
];

const bundle: FlagDef = {
  name: "bundle",
  short: "b",
  type: "string",
  value: "DIR",
  default: ".",
  help: "bundle directory (holds config.json)",
};
const pidFile: FlagDef = {
  name: "pid-file",
  type: "string",
  value: "FILE",
  help: "write the process's host pid to FILE",
};
const consoleSocket: FlagDef = {
  name: "console-socket",
  type: "string",
  value: "PATH",
  help: "AF_UNIX socket that receives the pty master of a terminal process",
};
const preserveFds: FlagDef = {
  name: "preserve-fds",
  type: "string",
  value: "N",
  default: "0",
  help: "pass N more fds (3, 4, ...) to the process",
};
const CREATE_FLAGS: FlagDef[] = [
  bundle,
  consoleSocket,
  pidFile,
  { name: "no-pivot", type: "boolean", help: "use MS_MOVE and chroot instead of pivot_root" },
  {
    name: "no-new-keyring",
    type: "boolean",
    help: "keep the caller's session keyring",
  },
  preserveFds,
];
const format: FlagDef = {
  name: "format",
  short: "f",
  type: "string",
  value: "table|json",
  default: "table",
  help: "output format",
};
const ID = "<container-id>";

/** The flags of `debug kvm` (its own parser reads them, src/cmd/debug_kvm.ts). */
export const DEBUG_KVM_FLAGS: FlagDef[] = [
  {
    name: "guest",
    type: "strings",
    value: "NAME",
    help: "debug kvm: a built-in guest to run (real, long, syscall, pio, spin)",
  },
  { name: "count", type: "string", value: "N", help: "debug kvm: runs of each guest" },
  { name: "timeout", type: "string", value: "MS", help: "debug kvm: stop a guest after MS" },
  { name: "memory", type: "string", value: "BYTES", help: "debug kvm: guest memory size" },
];

function one(
  name: string,
  summary: string,
  example: string,
  load: () => Promise<Runner>,
  description?: string,
): CommandDef {
  return {
    name,
    summary,
    args: ID,
    minArgs: 1,
    maxArgs: 1,
    flags: [],
    examples: [example],
    load,
    ...(description ? { description } : {}),
  };
}

/** Every command, in the order help lists them. */
export const COMMANDS: CommandDef[] = [
  {
    name: "check",
    stateless: true,
    summary: "check what this host offers runts",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    description: "One line per capability, ✔ or ✘ with the reason; each ✘ says what stops\n" +
      "working without it. Exits 0 when everything `runts run` needs is present.",
    flags: [
      { ...format, value: "text|json", default: "text" },
      {
        name: "host-root",
        type: "string",
        value: "DIR",
        default: "/",
        help: "read /proc, /sys, /dev and /etc under DIR (a view of another host)",
        hidden: true,
      },
    ],
    examples: ["runts check", "runts check --format json"],
    load: async () => (await import("./check.ts")).main,
  },
  {
    name: "create",
    summary: "create a container, stopped before its program starts",
    args: ID,
    minArgs: 1,
    maxArgs: 1,
    description: "Sets up the container of the bundle's config.json; `runts start` runs its\n" +
      "program. The id must be unique under --root.",
    flags: CREATE_FLAGS,
    examples: ["runts create --bundle /mycontainer mycontainer"],
    load: async () => (await import("./create.ts")).main,
  },
  {
    name: "debug",
    summary: "show a bundle's syscall program, a sandbox process's view, or run KVM guests",
    args: "plan <bundle> | kvm | <container-id>",
    minArgs: 1,
    maxArgs: 2,
    description:
      "debug plan BUNDLE: the init's syscall program, step by step, without running it.\n" +
      "debug --ps ID, debug --stacks ID: the sandbox process's view.\n" +
      "debug kvm: the built-in KVM guests run by a sandbox process (--guest, --count, --timeout,\n" +
      "--memory).",
    flags: [
      { name: "ps", type: "boolean", help: "list the container's processes" },
      { name: "stacks", type: "boolean", help: "the sandbox process's stack, fds and containers" },
      ...DEBUG_KVM_FLAGS,
    ],
    examples: [
      "runts debug plan /mycontainer",
      "runts debug --stacks mycontainer",
      "runts debug kvm --guest spin --timeout 200",
    ],
    load: async () => (await import("./debug.ts")).main,
  },
  {
    name: "delete",
    summary: "delete a container and everything it holds",
    args: ID,
    minArgs: 1,
    maxArgs: 1,
    flags: [{
      name: "force",
      short: "f",
      type: "boolean",
      help: "kill a running container first (SIGKILL)",
    }],
    examples: ["runts delete --force mycontainer"],
    load: async () => (await import("./delete.ts")).main,
  },
  {
    name: "events",
    summary: "print a container's resource usage and OOM events",
    args: ID,
    minArgs: 1,
    maxArgs: 1,
    flags: [
      {
        name: "interval",
        type: "string",
        value: "DURATION",
        default: "5s",
        help: "time between stats lines (Go duration)",
      },
      { name: "stats", type: "boolean", help: "print the stats once and exit" },
    ],
    examples: ["runts events --stats mycontainer"],
    load: async () => (await import("./events.ts")).main,
  },
  {
    name: "exec",
    summary: "run a new process in a running container",
    args: "<container-id> <command> [args...]",
    minArgs: 1,
    maxArgs: Infinity,
    stopAtFirstArg: true,
    description: "Flags come before the container id; everything after it is the command.\n" +
      "With --process the process is read from a runtime-spec process.json.",
    flags: [
      consoleSocket,
      { name: "cwd", type: "string", value: "DIR", help: "working directory in the container" },
      { name: "env", short: "e", type: "strings", value: "KEY=VALUE", help: "set a variable" },
      { name: "tty", short: "t", type: "boolean", help: "give the process a pseudo-terminal" },
      { name: "user", short: "u", type: "string", value: "UID[:GID]", help: "run as this user" },
      {
        name: "additional-gids",
        short: "g",
        type: "strings",
        value: "GID",
        help: "additional group ids",
      },
      {
        name: "process",
        short: "p",
        type: "string",
        value: "FILE",
        help: "process.json to run (the command-line process flags are ignored)",
      },
      { name: "detach", short: "d", type: "boolean", help: "do not wait for the process" },
      pidFile,
      {
        name: "process-label",
        type: "string",
        value: "LABEL",
        help: "SELinux label of the process",
      },
      {
        name: "apparmor",
        type: "string",
        value: "PROFILE",
        help: "AppArmor profile of the process",
      },
      {
        name: "no-new-privs",
        type: "boolean",
        help: "set no_new_privs for the process",
      },
      { name: "cap", short: "c", type: "strings", value: "CAP", help: "add a capability" },
      preserveFds,
      {
        name: "cgroup",
        type: "strings",
        value: "[CONTROLLERS:]PATH",
        help: "join this sub-cgroup of the container's cgroup",
      },
      {
        name: "ignore-paused",
        type: "boolean",
        help: "exec even when the container is paused",
      },
    ],
    examples: ["runts exec -t mycontainer sh", "runts exec -e A=1 mycontainer env"],
    load: async () => (await import("./exec.ts")).main,
  },
  {
    name: "features",
    stateless: true,
    summary: "print what this runtime supports (runtime-spec features, JSON)",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    flags: [],
    examples: ["runts features"],
    load: async () => (await import("./features.ts")).main,
  },
  {
    name: "help",
    stateless: true,
    summary: "show the commands, or one command's help",
    args: "[command]",
    minArgs: 0,
    maxArgs: 1,
    flags: [],
    examples: ["runts help run"],
    load: () => Promise.reject(new Error("help is answered by main.ts")),
  },
  {
    name: "kill",
    summary: "send a signal to a container's init (or all its processes)",
    args: "<container-id> [signal]",
    minArgs: 1,
    maxArgs: 2,
    description: "The signal is a name (KILL, SIGKILL) or a number; 0 only checks that the\n" +
      "container is alive. Default: SIGTERM.",
    flags: [{
      name: "all",
      short: "a",
      type: "boolean",
      help: "signal every process of the container; succeeds on a stopped container",
    }],
    examples: ["runts kill mycontainer KILL"],
    load: async () => (await import("./kill.ts")).main,
  },
  {
    name: "list",
    summary: "list the containers under --root",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    flags: [format, {
      name: "quiet",
      short: "q",
      type: "boolean",
      help: "print the ids only",
    }],
    examples: ["runts list --format json"],
    load: async () => (await import("./list.ts")).main,
  },
  one(
    "pause",
    "freeze every process of a container",
    "runts pause mycontainer",
    async () => (await import("./pause.ts")).main,
  ),
  {
    name: "ps",
    summary: "list a container's processes",
    args: "<container-id> [ps options]",
    minArgs: 1,
    maxArgs: Infinity,
    stopAtFirstArg: true,
    description: "Arguments after the id are passed to ps(1) (default -ef), whose output is\n" +
      "limited to the container's processes.",
    flags: [format],
    examples: ["runts ps mycontainer", "runts ps mycontainer -e -x"],
    load: async () => (await import("./ps.ts")).main,
  },
  one(
    "resume",
    "thaw a paused container",
    "runts resume mycontainer",
    async () => (await import("./resume.ts")).main,
  ),
  {
    name: "run",
    summary: "create and start a container",
    args: ID,
    minArgs: 1,
    maxArgs: 1,
    description: "In the foreground, waits for the container and exits with its status;\n" +
      "the container is deleted afterwards unless --keep is given.",
    flags: [
      ...CREATE_FLAGS,
      { name: "detach", short: "d", type: "boolean", help: "do not wait for the container" },
      {
        name: "keep",
        type: "boolean",
        help: "keep the stopped container's state and cgroup until `runts delete`",
      },
      {
        name: "no-subreaper",
        type: "boolean",
        help: "accepted as runc does (runts run reaps nothing: the sandbox process is the " +
          "container's parent)",
      },
    ],
    examples: ["runts run -b /mycontainer mycontainer"],
    load: async () => (await import("./run.ts")).main,
  },
  {
    name: "spec",
    stateless: true,
    summary: "write a default config.json",
    args: "",
    minArgs: 0,
    maxArgs: 0,
    flags: [
      { ...bundle, help: "directory to write config.json to" },
      { name: "rootless", type: "boolean", help: "a spec for a container run by a user" },
    ],
    examples: ["cd /mycontainer && runts spec"],
    load: async () => (await import("./spec.ts")).main,
  },
  one(
    "start",
    "run the program of a created container",
    "runts start mycontainer",
    async () => (await import("./start.ts")).main,
  ),
  one(
    "state",
    "print a container's runtime-spec state (JSON)",
    "runts state mycontainer",
    async () => (await import("./state.ts")).main,
  ),
  {
    name: "update",
    summary: "change a running container's resource limits",
    args: ID,
    minArgs: 1,
    maxArgs: 1,
    description: "Limits left out, and zero values, stay as they are. --resources takes a\n" +
      "LinuxResources JSON document (- for stdin) instead of the flags.",
    flags: [
      {
        name: "resources",
        short: "r",
        type: "string",
        value: "FILE",
        help: "LinuxResources JSON file, - for stdin",
      },
      {
        name: "blkio-weight",
        type: "string",
        kind: "int",
        value: "N",
        help: "block I/O weight (10-1000)",
      },
      { name: "cpu-period", type: "string", kind: "uint", value: "US", help: "CPU CFS period" },
      { name: "cpu-quota", type: "string", kind: "int", value: "US", help: "CPU CFS quota" },
      { name: "cpu-burst", type: "string", kind: "uint", value: "US", help: "CPU CFS burst" },
      {
        name: "cpu-share",
        type: "string",
        kind: "uint",
        value: "N",
        help: "CPU shares (relative weight)",
      },
      {
        name: "cpu-shares",
        type: "string",
        kind: "uint",
        value: "N",
        help: "CPU shares",
        hidden: true,
      },
      {
        name: "cpu-rt-period",
        type: "string",
        kind: "uint",
        value: "US",
        help: "CPU realtime period",
      },
      {
        name: "cpu-rt-runtime",
        type: "string",
        kind: "int",
        value: "US",
        help: "CPU realtime runtime",
      },
      {
        name: "cpu-idle",
        type: "string",
        kind: "int",
        value: "0|1",
        help: "SCHED_IDLE for the cgroup",
      },
      { name: "cpuset-cpus", type: "string", value: "LIST", help: "CPUs to run on (0-3,5)" },
      { name: "cpuset-mems", type: "string", value: "LIST", help: "memory nodes to use" },
      {
        name: "kernel-memory",
        type: "string",
        value: "SIZE",
        help: "ignored (obsolete kernel memory limit)",
      },
      {
        name: "kernel-memory-tcp",
        type: "string",
        value: "SIZE",
        help: "ignored (obsolete kernel TCP memory limit)",
      },
      {
        name: "memory",
        type: "string",
        kind: "size",
        value: "SIZE",
        help: "memory limit (64m, 1g; -1 none)",
      },
      {
        name: "memory-reservation",
        type: "string",
        kind: "size",
        value: "SIZE",
        help: "memory soft limit",
      },
      {
        name: "memory-swap",
        type: "string",
        kind: "size",
        value: "SIZE",
        help: "memory plus swap limit",
      },
      {
        name: "pids-limit",
        type: "string",
        kind: "int",
        value: "N",
        help: "most processes (-1 none)",
      },
      {
        name: "l3-cache-schema",
        type: "string",
        value: "SCHEMA",
        help: "Intel RDT L3 cache schema",
      },
      {
        name: "mem-bw-schema",
        type: "string",
        value: "SCHEMA",
        help: "Intel RDT memory bandwidth schema",
      },
    ],
    examples: ["runts update --memory 64m --pids-limit 20 mycontainer"],
    load: async () => (await import("./update.ts")).main,
  },
  one(
    "wait",
    "wait for a container's init to exit and print its status (JSON)",
    "runts wait mycontainer",
    async () => (await import("./wait.ts")).main,
  ),
  {
    name: "boot",
    summary: "the sandbox process (internal)",
    args: ID,
    minArgs: 0,
    maxArgs: 1,
    flags: [{
      name: "creator",
      type: "string",
      value: "PID",
      kind: "uint",
      help: "the runts that started it: exit at once when that is no longer the parent",
    }, {
      name: "spare",
      type: "string",
      value: "SOCKET",
      help: "a spare sandbox process (no ID): waits on SOCKET for a create to adopt it",
    }],
    examples: [],
    hidden: true,
    load: async () => (await import("./boot.ts")).main,
  },
];

/** The definition of a command by name. */
export function commandDef(name: string): CommandDef | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The global flags as a parse definition (they end at the command name). */
export const GLOBAL_DEF = {
  name: "",
  flags: GLOBAL_FLAGS,
  minArgs: 0,
  maxArgs: Infinity,
  args: "COMMAND [arguments...]",
  stopAtFirstArg: true,
} as const;

/** Parses a command's arguments by its definition (see parseFlags). */
export function parseCommandArgs(name: string, argv: readonly string[]): Parsed {
  // main.ts parses a command's arguments first (--help, usage errors) and hands the command the
  // same array: the command's own call gets that parse, not a second one.
  if (lastParse?.name === name && lastParse.argv === argv) return lastParse.parsed;
  const def = commandDef(name);
  if (def === undefined) throw new Error(`no definition of command ${JSON.stringify(name)}`);
  const parsed = parseFlags(def, argv);
  lastParse = { name, argv, parsed };
  return parsed;
}

let lastParse: { name: string; argv: readonly string[]; parsed: Parsed } | undefined;
