/**
 * The cgroup manager against this machine's real /sys/fs/cgroup (root only): limits land in
 * the kernel's files, a real process joins through procsFiles(), freezes, thaws, and destroy()
 * kills it and removes every directory.
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import { cgroupManagerFor } from "../../src/cgroup/manager.ts";

const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

function procState(pid: number): string {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return /^State:\s*(.*)$/m.exec(status)?.[1] ?? "";
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Removes the test's parent cgroup (`/runts-test`) in every hierarchy, if empty. */
function removeParents(paths: Record<string, string>): void {
  for (const dir of new Set(Object.values(paths))) {
    try {
      Deno.removeSync(dir.slice(0, dir.lastIndexOf("/")));
    } catch {
      // not empty (another test's) or gone
    }
  }
}

Deno.test({
  name: "cgroupManagerFor() on this host: limits, join, pids, freeze, thaw, destroy",
  ...opts,
  async fn() {
    const id = `runts-cgtest-${Deno.pid}`;
    const cg = cgroupManagerFor({ cgroupsPath: `/runts-test/${id}`, id });
    assert(cg.kind !== "disabled");
    cg.create();
    const child = new Deno.Command("sleep", { args: ["5"], stdout: "null", stderr: "null" })
      .spawn();
    try {
      for (const f of cg.procsFiles()) assert(exists(f), `${f} exists after create()`);
      cg.apply({ memory: { limit: 64 * 1024 * 1024 }, pids: { limit: 10 } });
      const paths = cg.paths();
      if (cg.kind === "v1") {
        assertEquals(
          Deno.readTextFileSync(`${paths["memory"]}/memory.limit_in_bytes`).trim(),
          "67108864",
        );
        assertEquals(Deno.readTextFileSync(`${paths["pids"]}/pids.max`).trim(), "10");
        // a new cpuset cgroup got its parent's cpus and mems
        assert(Deno.readTextFileSync(`${paths["cpuset"]}/cpuset.cpus`).trim() !== "");
        assert(Deno.readTextFileSync(`${paths["cpuset"]}/cpuset.mems`).trim() !== "");
      } else {
        assertEquals(Deno.readTextFileSync(`${paths[""]}/memory.max`).trim(), "67108864");
        assertEquals(Deno.readTextFileSync(`${paths[""]}/pids.max`).trim(), "10");
      }
      for (const f of cg.procsFiles()) Deno.writeTextFileSync(f, String(child.pid));
      const own = Deno.readTextFileSync(`/proc/${child.pid}/cgroup`);
      for (const line of own.trim().split("\n")) {
        assert(line.endsWith(`/runts-test/${id}`), `in the container's cgroup: ${line}`);
      }
      assertEquals(cg.pids(), [child.pid]);
      assertEquals(cg.stats().pids.current, 1);
      assertEquals(cg.stats().memory.usage.limit, 64 * 1024 * 1024);

      cg.freeze();
      assert(cg.frozen());
      if (cg.kind === "v1") {
        assertEquals(Deno.readTextFileSync(`${paths["freezer"]}/freezer.state`).trim(), "FROZEN");
      }
      // a frozen task sleeps in the refrigerator: D (v1 freezer) or S (cgroup2 freezer)
      assert(/^[DS] /.test(procState(child.pid)), procState(child.pid));
      cg.thaw();
      assert(!cg.frozen());
      assertEquals(cg.oomEvents(), 0);

      cg.freeze(); // destroy() must cope with a frozen cgroup
      await cg.destroy();
      const status = await child.status;
      assertEquals(status.signal, "SIGKILL");
      for (const dir of Object.values(paths)) assert(!exists(dir), `${dir} removed`);
      await cg.destroy(); // again: already gone is fine
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already dead
      }
      await cg.destroy().catch(() => {});
      removeParents(cg.paths());
    }
  },
});

Deno.test({
  name: "cgroupManagerFor() on this host: hugetlb limits go to the cgroup2 side of a hybrid host",
  ...opts,
  async fn() {
    const id = `runts-cghuge-${Deno.pid}`;
    const cg = cgroupManagerFor({ cgroupsPath: `/runts-test/${id}`, id });
    const paths = cg.paths();
    const unifiedHugetlb = cg.kind === "v1" && paths[""] !== undefined && paths["hugetlb"] ===
        undefined &&
      Deno.readTextFileSync("/sys/fs/cgroup/unified/cgroup.controllers").includes("hugetlb");
    if (!unifiedHugetlb) {
      console.log("skipped: hugetlb is not a controller of this host's cgroup2 side (not hybrid)");
      return;
    }
    cg.create();
    try {
      cg.apply({ hugepageLimits: [{ pageSize: "2MB", limit: 4 * 2 * 1024 * 1024 }] });
      assertEquals(
        Deno.readTextFileSync(`${paths[""]}/hugetlb.2MB.max`).trim(),
        String(8 * 1024 * 1024),
      );
      assertEquals(cg.stats().hugetlb["2MB"]?.max, 8 * 1024 * 1024);
    } finally {
      await cg.destroy();
      removeParents(paths);
    }
    for (const dir of Object.values(paths)) assert(!exists(dir), `${dir} removed`);
  },
});
