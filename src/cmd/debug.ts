/**
 * `runts debug plan BUNDLE` (the syscall program of a bundle's init, step by step, without
 * running it), `runts debug --ps ID` and `runts debug --stacks ID` (the sandbox process's view:
 * its stack, open fds and processes), `runts debug kvm` (the built-in KVM guests run by a sandbox
 * process, src/cmd/debug_kvm.ts).
 * @module
 */
import { parseCommandArgs } from "./defs.ts";
import { HIGH_FD } from "../../ffi/clone.ts";
import { cgroupManagerOfSpec, loadCgroupDrivers } from "../cgroup/manager.ts";
import { pinSystemdCgroupsPath } from "../cgroup/systemd_path.ts";
import { loadSeccompFor, planOfCreate, planText } from "../linux/init.ts";
import { containerPids } from "../linux/procs.ts";
import { loadBundle } from "../oci/config.ts";
import { Container } from "../container/container.ts";
import { SandboxClient } from "../sandbox/client.ts";
import type { GlobalOptions } from "./context.ts";
import { psRow, userNames } from "./ps.ts";

/** The lines `debug plan` prints for a bundle: the program `create` would run for it. */
export async function planLines(bundle: string, systemd = false): Promise<string[]> {
  const { spec, rootfs } = loadBundle(bundle);
  await loadSeccompFor(spec);
  // the cgroup a create by this caller would make (as `create` does: src/container/create.ts)
  if (systemd) pinSystemdCgroupsPath(spec, "plan");
  await loadCgroupDrivers({ systemd });
  const plan = planOfCreate({
    spec,
    rootfs,
    cgroupProcs: cgroupManagerOfSpec(spec, "plan", systemd).procsFiles(),
  });
  return [
    `# init of ${JSON.stringify(bundle)}: clone(${
      plan.newNamespaces.join(", ") || "no new namespaces"
    })`,
    `# fds: as in the sandbox process: stdio, control pipe and the rest from ${HIGH_FD} up; ` +
    `$N is the result of step N`,
    ...planText(plan.program),
  ];
}

/** Runs debug. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  if (argv[0] === "kvm") return await (await import("./debug_kvm.ts")).main(g, argv.slice(1));
  const { values, positionals } = parseCommandArgs("debug", argv);
  if (positionals[0] === "plan") {
    const bundle = positionals[1];
    if (bundle === undefined) throw new Error("debug plan: a bundle directory is required");
    for (const l of await planLines(bundle, g.systemdCgroup === true)) console.log(l);
    return 0;
  }
  const id = positionals[0];
  if (id === undefined || (!values.ps && !values.stacks)) {
    throw new Error("debug: use `debug plan BUNDLE`, `debug --ps ID` or `debug --stacks ID`");
  }
  const { rec } = Container.load(g, id);
  if (values.ps) {
    const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
    const names = userNames();
    for (const pid of containerPids(rec.pid)) {
      const r = psRow(pid, names, Date.now() - uptime * 1000);
      if (r) console.log(r.join(" "));
    }
  }
  if (values.stacks) {
    const r = await SandboxClient.with(rec.socketPath, (sb) => sb.stacks());
    console.log(`sandbox process ${r.pid}`);
    console.log(r.stack);
    console.log("open fds:");
    for (const f of r.fds) console.log(`  ${f}`);
    console.log("containers:");
    for (const c of r.containers) {
      const execs = c.execs.length ? ` exec'd: ${c.execs.join(" ")}` : "";
      console.log(`  ${c.id}: init ${c.pid} (${c.state})${execs}`);
    }
  }
  return 0;
}
