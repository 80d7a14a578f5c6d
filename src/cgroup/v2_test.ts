import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { CgroupError, type CgroupManager, cgroupManagerFor } from "./manager.ts";
import { type FakeHost, fakeHost } from "./_test_utils.ts";
import {
  applyDevicesV2,
  blkioWeightToIoWeight,
  parseIoStat,
  sharesToWeight,
  swapToV2,
} from "./v2.ts";

const MiB = 1024 * 1024;
const D = "runts/c1";

function test(name: string, fn: (s: { h: FakeHost; cg: CgroupManager }) => unknown) {
  Deno.test(name, async () => {
    const h = fakeHost("v2");
    try {
      const cg = cgroupManagerFor({
        cgroupsPath: undefined,
        id: "c1",
        mountinfo: h.mountinfo,
        fsRoot: h.root,
        fs: h.fs,
        kill: () => {},
      });
      cg.create();
      h.fs.ops.length = 0;
      await fn({ h, cg });
    } finally {
      h.cleanup();
    }
  });
}

Deno.test("sharesToWeight() is runc's conversion", async (t) => {
  const cases: [number, number][] = [
    [0, 0],
    [2, 1],
    [100, 4],
    [512, 20],
    [1024, 39],
    [262144, 10000],
    [1, 1], // below the kernel's minimum: clamped to 2
    [1_000_000, 10000],
  ];
  for (const [shares, weight] of cases) {
    await t.step(`${shares} -> ${weight}`, () => assertEquals(sharesToWeight(shares), weight));
  }
});

Deno.test("blkioWeightToIoWeight() maps 10..1000 onto 1..10000", () => {
  assertEquals(blkioWeightToIoWeight(10), 1);
  assertEquals(blkioWeightToIoWeight(500), 4950);
  assertEquals(blkioWeightToIoWeight(1000), 10000);
});

Deno.test("swapToV2() converts memory+swap to swap only", () => {
  assertEquals(swapToV2(128 * MiB, 64 * MiB), 64 * MiB);
  assertEquals(swapToV2(64 * MiB, 64 * MiB), 0);
  assertEquals(swapToV2(0, -1), -1);
  assertEquals(swapToV2(-1, 64 * MiB), -1);
  assertEquals(swapToV2(0, 64 * MiB), 0);
  assertThrows(() => swapToV2(32 * MiB, 64 * MiB), CgroupError, "linux.resources.memory.swap");
  assertThrows(() => swapToV2(32 * MiB, 0), CgroupError, "without a memory limit");
});

test("V2Manager create() enables the controllers at every level", ({ h }) => {
  assertEquals(h.cat("cgroup.subtree_control"), "cpuset cpu io memory hugetlb pids rdma\n");
  assertEquals(h.cat("runts/cgroup.subtree_control"), "cpuset cpu io memory hugetlb pids rdma\n");
  assertEquals(h.cat(`${D}/memory.max`), "max\n");
  assertEquals(h.cat(`${D}/cgroup.subtree_control`), "\n");
});

test("V2Manager apply() memory: swap.max is swap - limit", ({ h, cg }) => {
  cg.apply({ memory: { limit: 64 * MiB, swap: 128 * MiB, reservation: 32 * MiB } });
  assertEquals(h.writes(), [
    { path: `${D}/memory.swap.max`, data: String(64 * MiB) },
    { path: `${D}/memory.max`, data: String(64 * MiB) },
    { path: `${D}/memory.low`, data: String(32 * MiB) },
  ]);
  cg.apply({ memory: { limit: 64 * MiB, swap: 64 * MiB } });
  assertEquals(h.cat(`${D}/memory.swap.max`), "0");
  cg.apply({ memory: { limit: -1 } });
  assertEquals(h.cat(`${D}/memory.swap.max`), "max");
  assertEquals(h.cat(`${D}/memory.max`), "max");
});

test("V2Manager update() swap alone uses the current memory.max", ({ h, cg }) => {
  h.put(`${D}/memory.max`, "67108864\n");
  cg.update({ memory: { swap: 100 * MiB } });
  assertEquals(h.writes(), [{ path: `${D}/memory.swap.max`, data: String(36 * MiB) }]);
});

test("V2Manager apply() memory: what v2 cannot do", ({ h, cg }) => {
  assertThrows(
    () => cg.apply({ memory: { swappiness: 10 } }),
    CgroupError,
    "linux.resources.memory.swappiness: not supported on cgroup v2",
  );
  // tolerated as by runc: no v2 equivalent
  cg.apply({ memory: { disableOOMKiller: true, kernel: 1, kernelTCP: 1, useHierarchy: true } });
  assertEquals(h.writes(), []);
  h.put(`${D}/memory.current`, String(100 * MiB));
  assertThrows(
    () => cg.update({ memory: { limit: 50 * MiB, checkBeforeUpdate: true } }),
    CgroupError,
    "linux.resources.memory.limit: rejecting memory limit 52428800",
  );
});

test("V2Manager apply() cpu: weight, cpu.max, burst, idle, cpuset", ({ h, cg }) => {
  cg.apply({
    cpu: { shares: 1024, quota: 50000, period: 200000, burst: 1000, idle: 1, cpus: "1", mems: "0" },
  });
  assertEquals(h.writes(), [
    { path: `${D}/cpu.weight`, data: "39" },
    { path: `${D}/cpu.max`, data: "50000 200000" },
    { path: `${D}/cpu.max.burst`, data: "1000" },
    { path: `${D}/cpu.idle`, data: "1" },
    { path: `${D}/cpuset.cpus`, data: "1" },
    { path: `${D}/cpuset.mems`, data: "0" },
  ]);
  cg.update({ cpu: { quota: 10000 } }); // the period stays
  assertEquals(h.cat(`${D}/cpu.max`), "10000 200000");
  cg.update({ cpu: { period: 100000 } }); // the quota stays
  assertEquals(h.cat(`${D}/cpu.max`), "10000 100000");
  cg.update({ cpu: { quota: -1 } });
  assertEquals(h.cat(`${D}/cpu.max`), "max 100000");
  assertThrows(
    () => cg.apply({ cpu: { realtimeRuntime: 1000 } }),
    CgroupError,
    "linux.resources.cpu.realtimeRuntime: realtime CPU limits are not supported on cgroup v2",
  );
});

test("V2Manager apply() pids, io, hugetlb, rdma", ({ h, cg }) => {
  cg.apply({
    pids: { limit: -1 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 1000 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 0 }],
    },
    hugepageLimits: [{ pageSize: "1GB", limit: 1024 * MiB }],
    rdma: { mlx5_0: { hcaHandles: 2, hcaObjects: 100 } },
  });
  assertEquals(h.writes(), [
    { path: `${D}/pids.max`, data: "max" },
    { path: `${D}/io.weight`, data: "4950" },
    { path: `${D}/io.weight`, data: "8:0 10000" },
    { path: `${D}/io.max`, data: "8:0 rbps=1048576" },
    { path: `${D}/io.max`, data: "8:0 wiops=max" },
    { path: `${D}/hugetlb.1GB.max`, data: String(1024 * MiB) },
    { path: `${D}/rdma.max`, data: "mlx5_0 hca_handle=2 hca_object=100" },
  ]);
  // with BFQ, io.bfq.weight takes the blkio weight as it is
  h.put(`${D}/io.bfq.weight`, "default 100\n");
  cg.apply({ blockIO: { weight: 500 } });
  assertEquals(h.cat(`${D}/io.bfq.weight`), "500");
  assertThrows(
    () => cg.apply({ blockIO: { leafWeight: 10 } }),
    CgroupError,
    "linux.resources.blockIO.leafWeight: not supported on cgroup v2",
  );
  assertThrows(
    () => cg.apply({ network: { classID: 1 } }),
    CgroupError,
    "linux.resources.network: net_cls and net_prio do not exist on cgroup v2",
  );
});

test("V2Manager apply() unified: each key a file, each line a write", ({ h, cg }) => {
  cg.apply({ unified: { "memory.high": "1073741824", "io.max": "8:0 rbps=1\n8:16 wbps=2\n" } });
  assertEquals(h.writes(), [
    { path: `${D}/memory.high`, data: "1073741824" },
    { path: `${D}/io.max`, data: "8:0 rbps=1" },
    { path: `${D}/io.max`, data: "8:16 wbps=2" },
  ]);
  for (const bad of ["a/b", "..", ""]) {
    assertThrows(
      () => cg.apply({ unified: { [bad]: "1" } }),
      CgroupError,
      `linux.resources.unified[${JSON.stringify(bad)}]: must be a file name`,
    );
  }
  assertThrows(
    () => cg.apply({ unified: { "misc.max": "x 1" } }),
    CgroupError,
    "the misc controller is not available for this cgroup",
  );
});

Deno.test("applyDevicesV2() needs no program for allow-all and checks rules without a dir", () => {
  applyDevicesV2([], "/nonexistent");
  applyDevicesV2([{ allow: true, access: "rwm" }]);
  applyDevicesV2([{ allow: false, access: "rwm" }, { allow: true, type: "c", access: "rwa" }]);
  applyDevicesV2([{ allow: false, access: "rwm" }, { allow: true, type: "a", access: "rwm" }]);
  applyDevicesV2([
    { allow: false, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  ]);
  assertThrows(
    () => applyDevicesV2([{ allow: false, access: "rwm" }, { allow: true, type: "x" }]),
    CgroupError,
    'linux.resources.devices[1].type: must be "a", "b" or "c"',
  );
});

test("V2Manager apply() and update() attach a device program to its dir", ({ h, cg }) => {
  const devices = [{ allow: false, access: "rwm" }];
  // the fake hierarchy is a plain directory: the kernel refuses it (EBADF, or EPERM unprivileged)
  assertThrows(
    () => cg.apply({ devices }),
    CgroupError,
    `linux.resources.devices: listing the device programs of the cgroup ${
      JSON.stringify(`${h.root}/${D}`)
    }`,
  );
  assertThrows(() => cg.update({ devices, pids: { limit: 3 } }), CgroupError, "listing the device");
  cg.update({ pids: { limit: 3 } });
  assertEquals(h.cat(`${D}/pids.max`), "3");
});

test("V2Manager freeze() writes cgroup.freeze 1, thaw() 0", ({ h, cg }) => {
  cg.freeze();
  assertEquals(h.cat(`${D}/cgroup.freeze`), "1");
  assert(cg.frozen());
  cg.thaw();
  assertEquals(h.cat(`${D}/cgroup.freeze`), "0");
  assert(!cg.frozen());
});

test("V2Manager freeze() waits for frozen 1 and gives up after 2 s", ({ h, cg }) => {
  h.put(`${D}/cgroup.events`, "populated 1\nfrozen 0\n");
  const t0 = Date.now();
  assertThrows(() => cg.freeze(), CgroupError, "did not freeze within 2 s");
  // A lower bound only: freezeV2() polls until its 2 s deadline has passed before it gives up.
  const took = Date.now() - t0;
  assert(took >= 2000, `gave up after ${took} ms, before its 2 s deadline`);
  assertEquals(h.cat(`${D}/cgroup.freeze`), "0");
});

Deno.test("parseIoStat() maps rbytes/wbytes/rios/wios to runc's tables", () => {
  const s = parseIoStat(
    "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1 wbytes=0 rios=1 wios=0\n",
  );
  assertEquals(s.bytes, [
    { major: 8, minor: 0, op: "Read", value: 4096 },
    { major: 8, minor: 0, op: "Write", value: 8192 },
    { major: 253, minor: 1, op: "Read", value: 1 },
    { major: 253, minor: 1, op: "Write", value: 0 },
  ]);
  assertEquals(s.ios.length, 4);
});

test("V2Manager stats() parses the kernel's files", ({ h, cg }) => {
  h.put(
    `${D}/cpu.stat`,
    "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n",
  );
  h.put(`${D}/memory.stat`, "anon 8192\nfile 4096\n");
  h.put(`${D}/memory.current`, "12288\n");
  h.put(`${D}/memory.max`, "67108864\n");
  h.put(`${D}/memory.swap.current`, "4096\n");
  h.put(`${D}/memory.swap.max`, "67108864\n");
  h.put(`${D}/memory.events`, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
  h.put(`${D}/pids.current`, "2\n");
  h.put(`${D}/io.stat`, "8:0 rbytes=4096 wbytes=0 rios=1 wios=0\n");
  h.put(`${D}/hugetlb.2MB.current`, "2097152\n");
  const s = cg.stats();
  assertEquals(s.cpu.usage.total, 3_000_000);
  assertEquals(s.cpu.usage.user, 2_000_000);
  assertEquals(s.cpu.usage.kernel, 1_000_000);
  assertEquals(s.cpu.throttling, { periods: 5, throttledPeriods: 1, throttledTime: 7000 });
  assertEquals(s.memory.cache, 4096);
  assertEquals(s.memory.usage, { usage: 12288, max: 0, limit: 67108864, failcnt: 4 });
  assertEquals(s.memory.swap.usage, 16384);
  assertEquals(s.memory.swap.limit, 2 * 67108864);
  assertEquals(s.pids, { current: 2, limit: 0 });
  assertEquals(s.blkio.ioServiceBytesRecursive, [
    { major: 8, minor: 0, op: "Read", value: 4096 },
    { major: 8, minor: 0, op: "Write", value: 0 },
  ]);
  assertEquals(s.hugetlb["2MB"], { usage: 2097152, max: 2 ** 64, failcnt: 0 });
  assertEquals(cg.oomEvents(), 1);
});

test("V2Manager destroy() removes sub-cgroups first and keeps the parent", async ({ h, cg }) => {
  h.kernel.mkdirAll(`${h.root}/${D}/a/b`);
  await cg.destroy();
  const rmdirs = h.fs.ops.filter((o) => o.op === "rmdir").map((o) =>
    o.path.slice(h.root.length + 1)
  );
  assertEquals(rmdirs, [`${D}/a/b`, `${D}/a`, D]);
  assert(h.kernel.exists(`${h.root}/runts`));
});
