/**
 * `runts debug kvm [--guest NAME]... [--count N] [--timeout MS] [--memory BYTES]`: runs the
 * built-in KVM guests through a sandbox process exactly as a container gets the device: this
 * command opens and checks /dev/kvm, starts `runts boot`, sends it the fd with each guest's
 * request, prints each guest's output and timings, and leaves nothing behind.
 * @module
 */
import { parseFlags } from "./cli.ts";
import { DEBUG_KVM_FLAGS } from "./defs.ts";
import { closeFd, reapNoHang } from "../../ffi/process.ts";
import { listenUnix } from "../../ffi/socket.ts";
import { hostFacts, kvmBackend, openKvm } from "../kvm/device.ts";
import { GUEST_NAMES, type GuestName } from "../kvm/guests.ts";
import type { GuestRun } from "../kvm/machine.ts";
import { SandboxClient } from "../sandbox/client.ts";
import * as M from "../rpc/methods.ts";
import { killSandbox } from "../sandbox/kill.ts";
import { startSandbox } from "../sandbox/sandbox.ts";
import type { GlobalOptions } from "./context.ts";

/** The guests run when none is named (spin only runs when asked: it waits for the timeout). */
export const DEFAULT_GUESTS: readonly GuestName[] = ["real", "long", "syscall", "pio"];

/** Parsed arguments of `debug kvm`. */
export interface DebugKvmArgs {
  guests: GuestName[];
  count?: number;
  timeoutMs?: number;
  memoryBytes?: number;
}

function positiveInt(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`debug kvm: --${flag}: must be a positive integer, not ${JSON.stringify(v)}`);
  }
  return n;
}

/** Parses the arguments after `debug kvm`. */
export function parseDebugKvmArgs(argv: string[]): DebugKvmArgs {
  const { values: v } = parseFlags(
    { name: "debug kvm", flags: DEBUG_KVM_FLAGS, minArgs: 0, maxArgs: 0, args: "" },
    argv,
  );
  const values = {
    guest: v.guest as string[],
    count: v.count as string | undefined,
    timeout: v.timeout as string | undefined,
    memory: v.memory as string | undefined,
  };
  const guests = (values.guest.length ? values.guest : [...DEFAULT_GUESTS]).map((g) => {
    if (!(GUEST_NAMES as readonly string[]).includes(g)) {
      throw new Error(
        `debug kvm: --guest: no built-in guest ${JSON.stringify(g)} (${GUEST_NAMES.join(", ")})`,
      );
    }
    return g as GuestName;
  });
  const a: DebugKvmArgs = { guests };
  const count = positiveInt("count", values.count);
  const timeoutMs = positiveInt("timeout", values.timeout);
  const memoryBytes = positiveInt("memory", values.memory);
  if (count !== undefined) a.count = count;
  if (timeoutMs !== undefined) a.timeoutMs = timeoutMs;
  if (memoryBytes !== undefined) a.memoryBytes = memoryBytes;
  return a;
}

const ms = (v: number) => `${v.toFixed(2)} ms`;

/** The lines printed for one guest's run. */
export function describeRun(r: GuestRun): string[] {
  const end = r.end === "exit"
    ? `exit status ${r.status}`
    : r.end === "error"
    ? `error: ${r.error}`
    : r.end === "timeout"
    ? "stopped by the timeout"
    : "HLT";
  const lines = [`${r.guest}: ${end} (rip ${r.rip}); expected: ${r.expect}`];
  if (r.output !== "") lines.push(`  output: ${JSON.stringify(r.output)}`);
  const secs = r.runMs / 1000;
  lines.push(
    `  VM creation ${ms(r.createMs)}, setup ${ms(r.setupMs)}, vCPU thread start ${
      ms(r.threadMs)
    }, first entry to first exit ${ms(r.firstEntryUs / 1000)}`,
  );
  lines.push(
    `  ${r.exits} exits in ${ms(r.runMs)}: ${Math.round(r.ioExits / secs)} port I/O exits/s` +
      (r.syscalls ? `, ${Math.round(r.syscalls / secs)} syscalls/s` : ""),
  );
  return lines;
}

/** Runs the guests in a fresh sandbox process; returns their runs (printing as they end). */
export async function debugKvm(
  g: GlobalOptions,
  a: DebugKvmArgs,
  print: (line: string) => void = console.log,
): Promise<GuestRun[]> {
  const dev = openKvm();
  const dir = Deno.makeTempDirSync({ prefix: "runts-kvm-" });
  let listenFd = -1;
  let sb: Awaited<ReturnType<typeof startSandbox>> | undefined;
  let client: SandboxClient | undefined;
  try {
    listenFd = listenUnix(`${dir}/sock`, { mode: 0o600, backlog: 4 });
    sb = await startSandbox({
      root: g.root,
      id: `kvm-debug-${Deno.pid}`,
      listenFd,
      logPath: `${dir}/sandbox.log`,
      debug: g.debug,
    });
    closeFd(listenFd);
    listenFd = -1;
    print(
      `kvm: /dev/kvm API version ${dev.apiVersion}, backend ${
        kvmBackend(hostFacts())
      }; sandbox process ${sb.pid} receives the fd`,
    );
    client = SandboxClient.connect(`${dir}/sock`);
    const runs: GuestRun[] = [];
    for (const guest of a.guests) {
      const args: M.KvmRunGuestArgs = { guest };
      if (a.count !== undefined) args.count = a.count;
      if (a.timeoutMs !== undefined) args.timeoutMs = a.timeoutMs;
      if (a.memoryBytes !== undefined) args.memoryBytes = a.memoryBytes;
      const r = await client.runGuest(args, dev.fd);
      for (const l of describeRun(r)) print(l);
      runs.push(r);
    }
    return runs;
  } finally {
    client?.close();
    closeFd(listenFd);
    closeFd(dev.fd);
    await killSandbox(sb);
    if (sb !== undefined) reapNoHang(sb.pid); // our child: leave no zombie
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Runs `debug kvm`: non-zero when a guest failed. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const runs = await debugKvm(g, parseDebugKvmArgs(argv));
  const failed = runs.find((r) => r.end === "error");
  if (failed) throw new Error(`debug kvm: guest "${failed.guest}": ${failed.error}`);
  return 0;
}
