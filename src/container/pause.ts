/** `pause` and `resume`: the container's cgroup freezer, under its lock. @module */
import { requireCgroup } from "./cgroup.ts";
import { Container, type Runtime } from "./container.ts";

/** Freezes every process of a running (or created) container: status paused. */
export async function pauseContainer(rt: Pick<Runtime, "root">, id: string): Promise<void> {
  await Container.locked(rt, id, (c) => {
    c.check("pause");
    requireCgroup(c).freeze();
    c.rec.status = "paused";
    c.saveLocked();
    return Promise.resolve();
  });
}

/** Thaws a paused container. */
export async function resumeContainer(rt: Pick<Runtime, "root">, id: string): Promise<void> {
  await Container.locked(rt, id, (c) => {
    c.check("resume");
    requireCgroup(c).thaw();
    c.rec.status = "running";
    c.saveLocked();
    return Promise.resolve();
  });
}
