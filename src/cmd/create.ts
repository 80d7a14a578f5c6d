/**
 * `runts create [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot]
 * [--no-new-keyring] [--preserve-fds N] ID`
 * @module
 */
import { parseCommandArgs } from "./defs.ts";
import { createContainer, type CreateOptions } from "../container/create.ts";
import { checkPidFile } from "../container/pidfile.ts";
import type { GlobalOptions } from "./context.ts";

/** Arguments of create: the container layer's options. */
export type CreateArgs = CreateOptions;

/** Parses create's arguments (shared with run). */
export function parseCreateArgs(
  argv: string[],
  command: "create" | "run" = "create",
): {
  args: CreateArgs;
  flags: Record<string, unknown>;
} {
  const { values, positionals } = parseCommandArgs(command, argv);
  const pf = values["preserve-fds"] as string;
  const preserveFds = /^\d+$/.test(pf) ? Number(pf) : NaN;
  if (!Number.isInteger(preserveFds) || preserveFds < 0) {
    throw new Error(`--preserve-fds: not a number of fds: ${JSON.stringify(pf)}`);
  }
  const args: CreateArgs = {
    id: positionals[0]!,
    bundle: values.bundle as string,
    noPivot: values["no-pivot"] === true,
    preserveFds,
  };
  const pidFile = values["pid-file"] as string | undefined;
  if (pidFile !== undefined) args.pidFile = pidFile;
  const cs = values["console-socket"] as string | undefined;
  if (cs !== undefined) args.consoleSocket = cs;
  return { args, flags: values };
}

/** Runs create. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const { args } = parseCreateArgs(argv);
  if (args.pidFile !== undefined) checkPidFile(args.pidFile);
  await createContainer(g, args);
  return 0;
}
