/**
 * `runts create [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot]
 * [--no-new-keyring] [--preserve-fds N] ID`
 * @module
 */
import { parseArgs } from "node:util";
import { createContainer, type CreateOptions } from "../container/create.ts";
import type { GlobalOptions } from "./context.ts";

/** Arguments of create: the container layer's options. */
export type CreateArgs = CreateOptions;

/** Parses create's arguments (shared with run). */
export function parseCreateArgs(
  argv: string[],
  extra: Record<string, { type: "boolean"; short?: string }> = {},
): {
  args: CreateArgs;
  flags: Record<string, unknown>;
} {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      bundle: { type: "string", short: "b" },
      "pid-file": { type: "string" },
      "console-socket": { type: "string" },
      "no-pivot": { type: "boolean" },
      "no-new-keyring": { type: "boolean" },
      "preserve-fds": { type: "string" },
      ...extra,
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1) {
    throw new Error(
      positionals.length === 0
        ? "container id is required"
        : `expected one container id, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  const pf = values["preserve-fds"] as string | undefined;
  const preserveFds = pf === undefined ? 0 : Number(pf);
  if (!Number.isInteger(preserveFds) || preserveFds < 0) {
    throw new Error(`--preserve-fds: not a number of fds: ${JSON.stringify(pf)}`);
  }
  const args: CreateArgs = {
    id: positionals[0]!,
    bundle: (values.bundle as string | undefined) ?? ".",
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
  await createContainer(g, args);
  return 0;
}
