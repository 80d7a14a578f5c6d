/** `pause` and `resume`: the container's cgroup freezer, under its lock. @module */
import { requireCgroup } from "./cgroup.ts";
import { Container, type Runtime } from "./container.ts";

/** Freezes every process of a running (or created) container: status paused. */
export async function pauseContainer(rt: Pick<Runtime, "root">, id: string): Promise<void> {
  await Container.locked(rt, id, async (c) => {
    c.check("pause");
    (await requireCgroup(c)).freeze();
    c.rec.status = "paused";
    c.saveLocked();
  });
}

/** Thaws a paused container. */
export async function resumeContainer(rt: Pick<Runtime, "root">, id: string): Promise<void> {
  await Container.locked(rt, id, async (c) => {
    c.check("resume");
    (await requireCgroup(c)).thaw();
    c.rec.status = "running";
    c.saveLocked();
  });
}
