/**
 * `runts wait ID`: blocks until the container's init exits and prints its exit status as JSON.
 * When the init was handed to the caller's subreaper (create --pid-file), that reaper got the
 * status: wait reports the exit and says so.
 * @module
 */
import { waitContainer } from "../container/wait.ts";
import type { GlobalOptions } from "./context.ts";
import { oneId } from "./args.ts";

/** Runs wait. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const id = oneId(argv, "wait");
  const { result, pidFileUsed } = await waitContainer(g, id);
  const out: Record<string, unknown> = { id, exitStatus: result.code };
  if (result.signal !== undefined) out.signal = result.signal;
  if (result.code === null) {
    out.reaper = pidFileUsed
      ? "the caller's subreaper (create --pid-file) received the exit status"
      : "the sandbox process is gone; the exit status is not known";
  }
  console.log(JSON.stringify(out));
  return 0;
}
