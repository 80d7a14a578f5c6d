import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  cgroupDirIn,
  CgroupError,
  cgroupManagerFor,
  detectCgroupLayout,
  parseProcSelfCgroup,
  resolveCgroupsPath,
} from "./manager.ts";
import { fakeHost, HYBRID_MOUNTINFO, V1_MOUNTINFO, V2_MOUNTINFO } from "./_test_utils.ts";

/** This machine's /proc/self/mountinfo cgroup lines (plus an unrelated mount). */
const HOST_MOUNTINFO = `22 1 253:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

/** This machine's /proc/self/cgroup. */
const HOST_PROC_CGROUP = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/389f5abaae18e0706e3e4dcf7f2adf98
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;

Deno.test("detectCgroupLayout() sees this machine as hybrid: nine v1 hierarchies and unified", () => {
  const l = detectCgroupLayout(HOST_MOUNTINFO);
  assertEquals(l.mode, "hybrid");
  assertEquals(l.v1.map((m) => m.controllers.join(",")), [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "name=systemd",
  ]);
  assertEquals(l.v1[0], {
    type: "cgroup",
    mountPoint: "/sys/fs/cgroup/cpu",
    root: "/",
    controllers: ["cpu"],
  });
  assertEquals(l.unified, {
    type: "cgroup2",
    mountPoint: "/sys/fs/cgroup/unified",
    root: "/",
    controllers: [],
  });
});

Deno.test("detectCgroupLayout() modes and mount selection", async (t) => {
  await t.step("pure v2", () => {
    const l = detectCgroupLayout(V2_MOUNTINFO);
    assertEquals(l.mode, "v2");
    assertEquals(l.unified?.mountPoint, "/sys/fs/cgroup");
  });
  await t.step("v1 only", () => {
    const l = detectCgroupLayout(V1_MOUNTINFO);
    assertEquals(l.mode, "v1");
    assertEquals(l.unified, undefined);
    assertEquals(l.v1.length, 11);
    assertEquals(l.v1[10]?.controllers, ["net_cls", "net_prio"]);
  });
  await t.step("v1 only, co-mounted controllers and release_agent/xattr options", () => {
    const l = detectCgroupLayout(
      "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n" +
        "2 0 0:2 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd\n",
    );
    assertEquals(l.mode, "v1");
    assertEquals(l.v1.map((m) => m.controllers), [["cpu", "cpuacct"], ["name=systemd"]]);
  });
  await t.step("read-only mounts are skipped", () => {
    const l = detectCgroupLayout(
      "1 0 0:1 / /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup ro,cpu\n" +
        "2 0 0:2 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
    );
    assertEquals(l.v1.map((m) => m.controllers), [["pids"]]);
  });
  await t.step("a second mount of a hierarchy elsewhere does not win", () => {
    const l = detectCgroupLayout(
      "1 0 0:1 / /mnt/x rw - cgroup cgroup rw,pids\n" +
        "2 0 0:1 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
    );
    assertEquals(l.v1.map((m) => m.mountPoint), ["/sys/fs/cgroup/pids"]);
  });
  await t.step("fsRoot moves mount points under it", () => {
    const l = detectCgroupLayout(HYBRID_MOUNTINFO, "/tmp/cg");
    assertEquals(l.v1[3]?.mountPoint, "/tmp/cg/memory");
    assertEquals(l.unified?.mountPoint, "/tmp/cg/unified");
    assertEquals(detectCgroupLayout(V2_MOUNTINFO, "/tmp/cg").unified?.mountPoint, "/tmp/cg");
  });
  await t.step("no cgroups at all", () => {
    assertThrows(
      () => detectCgroupLayout("22 1 253:1 / / rw - ext4 /dev/vda rw\n"),
      CgroupError,
      "no writable cgroup hierarchy is mounted",
    );
  });
});

Deno.test('parseProcSelfCgroup() keys hierarchies by sorted controllers, cgroup2 by ""', () => {
  const own = parseProcSelfCgroup("3:cpuacct,cpu:/a\n1:name=systemd:/s\n0::/u\n");
  assertEquals(own.get("cpu,cpuacct"), "/a");
  assertEquals(own.get("name=systemd"), "/s");
  assertEquals(own.get(""), "/u");
});

Deno.test("resolveCgroupsPath() follows runc", async (t) => {
  await t.step("absolute", () => {
    assertEquals(resolveCgroupsPath("/docker/abc", "x"), { inner: "/docker/abc", relative: false });
    assertEquals(resolveCgroupsPath("/a/../b//c/", "x"), { inner: "/b/c", relative: false });
  });
  await t.step("relative: .. cannot climb out", () => {
    assertEquals(resolveCgroupsPath("pod/abc", "x"), { inner: "pod/abc", relative: true });
    assertEquals(resolveCgroupsPath("../../abc", "x"), { inner: "abc", relative: true });
  });
  await t.step("empty: /runts/<id>", () => {
    assertEquals(resolveCgroupsPath(undefined, "c1"), { inner: "/runts/c1", relative: false });
    assertEquals(resolveCgroupsPath("", "c1"), { inner: "/runts/c1", relative: false });
  });
  await t.step("systemd slice:prefix:name", () => {
    assertThrows(
      () => resolveCgroupsPath("system.slice:docker:abc", "x"),
      CgroupError,
      'linux.cgroupsPath: "system.slice:docker:abc" is a systemd unit path (slice:prefix:name); ' +
        "systemd cgroup paths need --systemd-cgroup, not supported",
    );
  });
  await t.step("the root cgroup or our own", () => {
    assertThrows(() => resolveCgroupsPath("/", "x"), CgroupError, "names the root cgroup");
    assertThrows(() => resolveCgroupsPath("/a/..", "x"), CgroupError, "names the root cgroup");
    assertThrows(() => resolveCgroupsPath(".", "x"), CgroupError, "the runtime's own cgroup");
    assertThrows(() => resolveCgroupsPath(undefined, "a/b"), CgroupError, "cannot name a cgroup");
  });
});

Deno.test("cgroupDirIn() strips the mount's root from our own cgroup (cgroup namespaces)", () => {
  const m = {
    type: "cgroup" as const,
    mountPoint: "/sys/fs/cgroup/memory",
    root: "/docker/abc",
    controllers: ["memory"],
  };
  const own = new Map([["memory", "/docker/abc/sub"]]);
  assertEquals(
    cgroupDirIn(m, { inner: "c1", relative: true }, own),
    "/sys/fs/cgroup/memory/sub/c1",
  );
  assertEquals(
    cgroupDirIn(m, { inner: "/c1", relative: false }, own),
    "/sys/fs/cgroup/memory/c1",
  );
});

Deno.test("cgroupManagerFor() on this machine's layout: paths and procsFiles", async (t) => {
  const mk = (cgroupsPath: string | undefined) =>
    cgroupManagerFor({
      cgroupsPath,
      id: "c1",
      mountinfo: HOST_MOUNTINFO,
      procSelfCgroup: HOST_PROC_CGROUP,
    });
  await t.step("absolute: under every hierarchy's root, cgroup2 included", () => {
    const cg = mk("/docker/abc");
    assertEquals(cg.kind, "v1");
    assertEquals(cg.paths(), {
      cpu: "/sys/fs/cgroup/cpu/docker/abc",
      cpuacct: "/sys/fs/cgroup/cpuacct/docker/abc",
      cpuset: "/sys/fs/cgroup/cpuset/docker/abc",
      memory: "/sys/fs/cgroup/memory/docker/abc",
      devices: "/sys/fs/cgroup/devices/docker/abc",
      freezer: "/sys/fs/cgroup/freezer/docker/abc",
      blkio: "/sys/fs/cgroup/blkio/docker/abc",
      pids: "/sys/fs/cgroup/pids/docker/abc",
      "name=systemd": "/sys/fs/cgroup/systemd/docker/abc",
      "": "/sys/fs/cgroup/unified/docker/abc",
    });
    const procs = cg.procsFiles();
    assertEquals(procs.length, 10);
    assertEquals(procs[0], "/sys/fs/cgroup/cpu/docker/abc/cgroup.procs");
    assertEquals(procs[9], "/sys/fs/cgroup/unified/docker/abc/cgroup.procs");
  });
  await t.step("relative: under our own cgroup of each hierarchy", () => {
    const p = mk("pod/abc").paths();
    assertEquals(
      p["memory"],
      "/sys/fs/cgroup/memory/process_api/389f5abaae18e0706e3e4dcf7f2adf98/pod/abc",
    );
    assertEquals(p["cpu"], "/sys/fs/cgroup/cpu/pod/abc");
    assertEquals(p[""], "/sys/fs/cgroup/unified/pod/abc");
  });
  await t.step("empty: /runts/<id>", () => {
    assertEquals(mk(undefined).paths()["pids"], "/sys/fs/cgroup/pids/runts/c1");
  });
});

Deno.test("cgroupManagerFor() on v2: one directory, relative to our own cgroup2 path", () => {
  const cg = cgroupManagerFor({
    cgroupsPath: "pod/abc",
    id: "c1",
    mountinfo: V2_MOUNTINFO,
    procSelfCgroup: "0::/user.slice/session-1.scope\n",
    fsRoot: "/tmp/cg",
  });
  assertEquals(cg.kind, "v2");
  assertEquals(cg.paths(), { "": "/tmp/cg/user.slice/session-1.scope/pod/abc" });
  assertEquals(cg.procsFiles(), ["/tmp/cg/user.slice/session-1.scope/pod/abc/cgroup.procs"]);
});

Deno.test("cgroupManagerFor() disabled is the null manager", async () => {
  const cg = cgroupManagerFor({ cgroupsPath: "/x", id: "c1", disabled: true });
  assertEquals(cg.kind, "disabled");
  cg.create();
  cg.apply({ memory: { limit: 1 } });
  assertEquals(cg.procsFiles(), []);
  assertEquals(cg.pids(), []);
  assertEquals(cg.frozen(), false);
  assertEquals(cg.stats().pids.current, 0);
  assertThrows(() => cg.freeze(), CgroupError, "cgroups are disabled");
  await cg.destroy();
});

Deno.test("cgroupManagerFor() create() makes every procs file the init will write", () => {
  for (const mode of ["v1", "v2", "hybrid"] as const) {
    const h = fakeHost(mode);
    try {
      const cg = cgroupManagerFor({
        cgroupsPath: undefined,
        id: "c1",
        mountinfo: h.mountinfo,
        fsRoot: h.root,
        fs: h.fs,
      });
      assertEquals(cg.kind, mode === "hybrid" ? "v1" : mode);
      for (const f of cg.procsFiles()) assert(!h.kernel.exists(f), `${f} not yet`);
      cg.create();
      const files = cg.procsFiles();
      assertEquals(files.length, mode === "v1" ? 11 : mode === "v2" ? 1 : 10);
      for (const f of files) {
        assert(f.startsWith(h.root) && f.endsWith("/runts/c1/cgroup.procs"), f);
        assert(h.kernel.exists(f), `${f} exists`);
      }
    } finally {
      h.cleanup();
    }
  }
});

Deno.test("FakeCgroupFs mkdirAll() populates v1 cgroups and rmdir() refuses a parent", () => {
  const h = fakeHost("v1");
  try {
    h.kernel.mkdirAll(`${h.root}/memory/a/b`);
    assertEquals(h.cat("memory/a/b/memory.limit_in_bytes"), "9223372036854771712\n");
    let code = "";
    try {
      h.kernel.rmdir(`${h.root}/memory/a`);
    } catch (e) {
      code = (e as { code: string }).code;
    }
    assertEquals(code, "EBUSY");
    h.kernel.rmdir(`${h.root}/memory/a/b`);
    h.kernel.rmdir(`${h.root}/memory/a`);
    assert(!h.kernel.exists(`${h.root}/memory/a`));
  } finally {
    h.cleanup();
  }
});

Deno.test("FakeCgroupFs write() of cgroup.subtree_control gives children the controller's files", () => {
  const h = fakeHost("hybrid");
  try {
    h.kernel.mkdirAll(`${h.root}/unified/x`);
    assert(!h.kernel.exists(`${h.root}/unified/x/hugetlb.2MB.max`));
    h.kernel.write(`${h.root}/unified/cgroup.subtree_control`, "+hugetlb");
    assertEquals(h.cat("unified/x/hugetlb.2MB.max"), "max\n");
    assertEquals(h.cat("unified/cgroup.subtree_control"), "hugetlb\n");
  } finally {
    h.cleanup();
  }
});
