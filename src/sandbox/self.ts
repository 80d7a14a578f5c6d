/**
 * How runts runs itself again (the sandbox process): the compiled binary is its own program;
 * from source, Deno runs main.ts with the flags that keep its start fast.
 * @module
 */

/** True inside a `deno compile` binary. */
export function isCompiled(): boolean {
  return import.meta.url.includes("/deno-compile-");
}

/** argv (argv[0] = the executable's path) that starts runts with `args`. */
export function selfArgv(args: string[], v8Flags: string[] = []): string[] {
  const exe = Deno.execPath();
  if (isCompiled()) {
    return [exe, ...args];
  }
  const flags = ["run", "-A", "--no-config", "--quiet", "--no-prompt", "--no-lock"];
  if (v8Flags.length) flags.push(`--v8-flags=${v8Flags.join(",")}`);
  // The same entry this process runs: main.ts, or the bundle made from it.
  return [exe, ...flags, new URL(Deno.mainModule).pathname, ...args];
}
