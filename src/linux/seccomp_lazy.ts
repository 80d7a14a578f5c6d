/**
 * The seccomp compiler (src/linux/seccomp.ts, with libseccomp through FFI), loaded only for a
 * spec that has a filter: most `runc spec` style configs have none, and every command that
 * builds a program would otherwise load it.
 * @module
 */
import type { LinuxSeccomp, Spec } from "../oci/spec.ts";
import type { CompiledSeccomp } from "./seccomp.ts";

let compiler: typeof import("./seccomp.ts") | undefined;

/** Loads the compiler when `spec` has a seccomp filter (call before building its program). */
export async function loadSeccompFor(spec: Spec): Promise<void> {
  if (spec.linux?.seccomp !== undefined) compiler ??= await import("./seccomp.ts");
}

/** compileSeccomp() of the loaded compiler. */
export function compileLoaded(s: LinuxSeccomp): CompiledSeccomp {
  if (compiler === undefined) {
    throw new Error("the seccomp compiler is not loaded (loadSeccompFor)");
  }
  return compiler.compileSeccomp(s);
}
