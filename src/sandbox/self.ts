/**
 * How runts runs itself again (the sandbox process): the compiled binary is its own program;
 * from source, Deno runs main.ts with the flags that keep its start fast.
 * @module
 */

/** True inside a `deno compile` binary. */
export function isCompiled(): boolean {
  return import.meta.url.includes("/deno-compile-");
}

/**
 * V8 flags of every runts process: bin/runts and the dist wrapper (scripts/dist/runts.sh) pass
 * the same, {@linkcode selfArgv} too, and `deno task build` compiles them into the executable. They must be the same
 * in all of them: V8 refuses a code cache made under other flags, and Deno then writes its own
 * over it, so a sandbox process and the commands would each compile everything again.
 *
 * `--no-maglev`: V8's mid-tier compiler starts within the few tens of ms a command lives and
 * compiles on another thread, which takes one of the CPUs the command and its sandbox process
 * need (`run` 0.94× wall, 0.87× CPU without it; TurboFan stays for the code that runs long, such
 * as a KVM vCPU's loop, whose exit rate is the same without Maglev).
 *
 * `--no-lazy`: every function is compiled with its file, so Deno's code cache (written right
 * after a module is compiled) holds all of them; lazily, the class methods and closures a command
 * runs were compiled again by every process (~10 ms of `run` by V8's function-event log).
 * `run` 0.935×, lifecycle 0.961×, exec 0.972×; a sandbox process holds ~0.6 MiB more bytecode.
 */
export const RUNTS_V8_FLAGS: readonly string[] = ["--no-maglev", "--no-lazy"];

/** argv (argv[0] = the executable's path) that starts runts with `args`. */
export function selfArgv(args: string[], v8Flags: string[] = []): string[] {
  const exe = Deno.execPath();
  if (isCompiled()) {
    return [exe, ...args];
  }
  const flags = ["run", "-A", "--no-config", "--quiet", "--no-prompt", "--no-lock"];
  flags.push(`--v8-flags=${[...RUNTS_V8_FLAGS, ...v8Flags].join(",")}`);
  // The same entry this process runs: main.ts, or the bundle made from it.
  return [exe, ...flags, new URL(Deno.mainModule).pathname, ...args];
}
