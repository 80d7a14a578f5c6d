/**
 * A spare sandbox process (src/sandbox/spare.ts) waits for the create that adopts it. Meanwhile
 * it runs what that create will run, on `runts spec`'s default config and with nothing made:
 * the cgroup manager's view of the host, the checks before create, the init's program built and
 * laid out into a scratch buffer. V8 compiles a function the first time it runs, and the first
 * runs are interpreted: done here, that work is off the adopting create's critical path.
 *
 * Nothing here changes the host: the program is never run, the cgroup is only looked at (its
 * path does not exist), no fd is opened (planOfCreate numbers fds without opening them).
 * @module
 */
import { cgroupManagerFor, checkBeforeCreate } from "../cgroup/manager.ts";
import { rootlessCaller } from "../cgroup/rootless.ts";
import { resourcesWithDevices } from "../linux/device_rules.ts";
import { planOfCreate } from "../linux/init.ts";
import { parseSpec } from "../oci/config.ts";
import { defaultSpec } from "../oci/default_spec.ts";

/** Runs the create path once on the default config; returns the program's size in bytes. */
export function rehearseCreate(root: string): number {
  const id = `.rehearsal-${Deno.pid}`;
  const spec = parseSpec(JSON.stringify(defaultSpec()));
  const cgroup = cgroupManagerFor({
    cgroupsPath: undefined,
    id,
    ...(spec.linux?.resources ? { resources: spec.linux.resources } : {}),
    rootless: rootlessCaller(),
  });
  checkBeforeCreate(cgroup, spec.linux?.resources ?? {});
  resourcesWithDevices(spec);
  const program = planOfCreate({
    spec,
    rootfs: `${root}/${id}/rootfs`,
    cgroupProcs: cgroup.procsFiles(),
  }).program;
  const bytes = new Uint8Array(program.encodedSize());
  program.encode(bytes, 0x7000_0000_0000n, 100);
  return bytes.byteLength;
}
