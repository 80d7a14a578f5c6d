/**
 * What this host's cgroups offer, for the cgroup tests to check before they rely on it (and to
 * print why they skip a part): the blkio weight file of the I/O scheduler, swap accounting, the
 * hugetlb controller and huge page sizes.
 * @module
 */

const exists = (p: string) => {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/**
 * The blkio weight file a new v1 blkio cgroup has (`blkio.weight` with CFQ, `blkio.bfq.weight`
 * with BFQ), or undefined when it has neither (found by making and removing a probe cgroup,
 * since the root cgroup's files differ). Undefined too without a v1 blkio hierarchy.
 */
export function blkioWeightFile(): string | undefined {
  const base = "/sys/fs/cgroup/blkio";
  if (!exists(`${base}/cgroup.procs`)) return undefined;
  const probe = `${base}/runts-test-probe-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(probe);
  try {
    return ["blkio.weight", "blkio.bfq.weight"].find((f) => exists(`${probe}/${f}`));
  } finally {
    Deno.removeSync(probe);
  }
}

/** Whether the v1 memory controller accounts swap (memory.memsw.* exist). */
export function swapAccounting(): boolean {
  return exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes");
}

/** Whether any swap is on (a memory limit without a swap limit may swap instead of OOM). */
export function swapOn(): boolean {
  return Deno.readTextFileSync("/proc/swaps").trim().split("\n").length > 1;
}

/**
 * The memory resources that make a process bigger than `limit` be OOM-killed here: a swap
 * limit equal to the limit where swap is accounted; no swap limit where no swap is on; and
 * undefined (cannot be tested) where swap is on but not accounted.
 */
export function oomLimit(limit: number): { limit: number; swap?: number } | undefined {
  if (swapAccounting()) return { limit, swap: limit };
  if (!swapOn()) return { limit };
  return undefined;
}

/** The smallest huge page size of this machine as cgroup files name it (`2MB`), and in bytes. */
export function smallestHugePage(): { name: string; bytes: number } | undefined {
  let dir: Iterable<Deno.DirEntry>;
  try {
    dir = Deno.readDirSync("/sys/kernel/mm/hugepages");
  } catch {
    return undefined;
  }
  const kb = [...dir].map((e) => /^hugepages-(\d+)kB$/.exec(e.name)?.[1])
    .filter((k) => k !== undefined).map(Number).sort((a, b) => a - b)[0];
  if (kb === undefined) return undefined;
  const name = kb >= 1024 * 1024
    ? `${kb / 1024 / 1024}GB`
    : kb >= 1024
    ? `${kb / 1024}MB`
    : `${kb}KB`;
  return { name, bytes: kb * 1024 };
}

/** Whether the hugetlb controller is there: a v1 hierarchy, or in the cgroup2 hierarchy. */
export function hugetlbController(): boolean {
  if (exists("/sys/fs/cgroup/hugetlb/cgroup.procs")) return true;
  for (const d of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      if (Deno.readTextFileSync(`${d}/cgroup.controllers`).split(/\s+/).includes("hugetlb")) {
        return true;
      }
    } catch {
      // not a cgroup2 mount
    }
  }
  return false;
}
