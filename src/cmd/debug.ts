/**
 * `runts debug plan BUNDLE` (the syscall program of a bundle's init, step by step, without
 * running it), `runts debug --ps ID` and `runts debug --stacks ID` (the sandbox process's view:
 * its stack, open fds and processes), `runts debug kvm` (the built-in KVM guests run by a sandbox
 * process, src/cmd/debug_kvm.ts).
 * @module
 */
import { parseCommandArgs } from "./defs.ts";
import { buildInitProgram } from "../linux/init_program.ts";
import { cgroupLayout } from "../linux/cgroup_mounts.ts";
import { containerPids } from "../linux/procs.ts";
import { describeStep } from "../../ffi/program.ts";
import { loadBundle } from "../oci/config.ts";
import { RpcClient } from "../rpc/client.ts";
import * as M from "../rpc/methods.ts";
import { loadContainer } from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { psRow, userNames } from "./ps.ts";

/** The lines `debug plan` prints for a bundle. */
export function planLines(bundle: string): string[] {
  const { spec, rootfs } = loadBundle(bundle);
  const plan = buildInitProgram({
    spec,
    rootfs,
    stdio: [0, 1, 2],
    ctlFd: 64,
    cgroupHierarchies: (spec.mounts ?? []).some((m) => m.type === "cgroup") ? cgroupLayout() : [],
  });
  const lines = [
    `# init of ${JSON.stringify(bundle)}: clone(${
      plan.newNamespaces.join(", ") || "no new namespaces"
    })`,
    `# fds: 0-2 stdio, 64 control pipe (id maps, start); $N is the result of step N`,
  ];
  let phase = "";
  plan.program.steps.forEach((s, i) => {
    if (s.opts.phase !== phase) {
      phase = s.opts.phase ?? "";
      lines.push(`## ${phase}`);
    }
    const about = s.opts.subject ? `    # ${s.opts.subject}` : "";
    lines.push(`${String(i).padStart(4)} ${describeStep(s)}${about}`);
  });
  return lines;
}

/** Runs debug. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  if (argv[0] === "kvm") return await (await import("./debug_kvm.ts")).main(g, argv.slice(1));
  const { values, positionals } = parseCommandArgs("debug", argv);
  if (positionals[0] === "plan") {
    const bundle = positionals[1];
    if (bundle === undefined) throw new Error("debug plan: a bundle directory is required");
    for (const l of planLines(bundle)) console.log(l);
    return 0;
  }
  const id = positionals[0];
  if (id === undefined || (!values.ps && !values.stacks)) {
    throw new Error("debug: use `debug plan BUNDLE`, `debug --ps ID` or `debug --stacks ID`");
  }
  const { rec } = loadContainer(g, id);
  if (values.ps) {
    const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
    const names = userNames();
    for (const pid of containerPids(rec.pid)) {
      const r = psRow(pid, names, Date.now() - uptime * 1000);
      if (r) console.log(r.join(" "));
    }
  }
  if (values.stacks) {
    const client = RpcClient.connect(rec.socketPath);
    try {
      const r = (await client.call(M.DEBUG_STACKS, {})).result as M.StacksResult;
      console.log(`sandbox process ${r.pid}`);
      console.log(r.stack);
      console.log("open fds:");
      for (const f of r.fds) console.log(`  ${f}`);
      console.log("containers:");
      for (const c of r.containers) {
        const execs = c.execs.length ? ` exec'd: ${c.execs.join(" ")}` : "";
        console.log(`  ${c.id}: init ${c.pid} (${c.state})${execs}`);
      }
    } finally {
      client.close();
    }
  }
  return 0;
}
