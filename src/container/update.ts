/** `update` and the statistics of `events`: a container's cgroup. @module */
import { requireCgroup } from "./cgroup.ts";
import type { CgroupManager } from "../cgroup/manager.ts";
import { resourcesWithDevices } from "../linux/device_rules.ts";
import type { LinuxResources } from "../oci/spec.ts";
import { Container, type Runtime } from "./container.ts";
import type { ContainerStatus } from "./status.ts";

/** Changes a live container's limits and remembers them in its stored spec, under its lock. */
export async function updateContainer(
  rt: Pick<Runtime, "root">,
  id: string,
  res: LinuxResources,
): Promise<void> {
  await Container.locked(rt, id, async (c) => {
    c.check("update");
    const spec = c.spec;
    // Device rules are not changed by update (as with runc); the container's own are re-applied,
    // which writes nothing when its cgroup holds them and restores them when it does not.
    const { devices: _, ...limits } = res;
    const devices = spec === undefined ? {} : { devices: resourcesWithDevices(spec).devices };
    (await requireCgroup(c)).update({ ...limits, ...devices });
    if (spec !== undefined) {
      spec.linux = {
        ...spec.linux,
        resources: mergeResources(spec.linux?.resources ?? {}, limits),
      };
      c.writeSpecLocked(spec);
    }
  });
}

function mergeResources(a: LinuxResources, b: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const old = out[k];
    out[k] = v !== null && typeof v === "object" && !Array.isArray(v) && old !== undefined
      ? { ...(old as object), ...v }
      : v;
  }
  return out as LinuxResources;
}

/** A container's cgroup statistics, the OOM kills counted so far, and its status (no lock). */
export async function containerStats(rt: Pick<Runtime, "root">, id: string): Promise<{
  stats: ReturnType<CgroupManager["stats"]>;
  oomKills: number;
  status: ContainerStatus;
}> {
  const c = Container.load(rt, id);
  const cg = await requireCgroup(c);
  return { stats: cg.stats(), oomKills: cg.oomEvents(), status: c.status() };
}
