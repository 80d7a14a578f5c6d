import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { CgroupError } from "./_common.ts";
import { fakeHost } from "./_test_utils.ts";
import { cgroupManagerFor, checkBeforeCreate, loadCgroupDrivers } from "./manager.ts";
import {
  cpusetMask,
  deviceProperties,
  type SystemdUnits,
  unitProperties,
  type UnitProperty,
} from "./systemd.ts";
import {
  expandSlice,
  isSystemdCgroupsPath,
  parseSystemdPath,
  pinSystemdCgroupsPath,
} from "./systemd_path.ts";

// cgroupManagerFor builds a systemd manager once the driver is loaded.
await loadCgroupDrivers({ systemd: true });

Deno.test("expandSlice() follows systemd's slice naming", async (t) => {
  const ok: [string, string][] = [
    ["system.slice", "/system.slice"],
    ["a-b.slice", "/a.slice/a-b.slice"],
    ["a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"],
    ["-.slice", "/"],
  ];
  for (const [slice, path] of ok) await t.step(slice, () => assertEquals(expandSlice(slice), path));
  for (const bad of ["system", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", ".slice"]) {
    await t.step(`${bad} is refused`, () => {
      assertThrows(
        () => expandSlice(bad),
        CgroupError,
        `linux.cgroupsPath: ${JSON.stringify(bad)} is not a valid systemd slice name`,
      );
    });
  }
});

Deno.test("parseSystemdPath() follows runc's slice:prefix:name rules", async (t) => {
  const ok: [string | undefined, string, string, string][] = [
    [undefined, "system.slice", "runts-c1.scope", "/system.slice/runts-c1.scope"],
    ["", "system.slice", "runts-c1.scope", "/system.slice/runts-c1.scope"],
    [
      "system.slice:docker:abc",
      "system.slice",
      "docker-abc.scope",
      "/system.slice/docker-abc.scope",
    ],
    [":docker:abc", "system.slice", "docker-abc.scope", "/system.slice/docker-abc.scope"],
    ["a-b.slice::abc", "a-b.slice", "abc.scope", "/a.slice/a-b.slice/abc.scope"],
    ["-.slice:p:abc", "-.slice", "p-abc.scope", "/p-abc.scope"],
  ];
  for (const [path, slice, unit, cgroup] of ok) {
    await t.step(String(path), () => {
      assertEquals(parseSystemdPath(path, "c1"), { slice, unit, cgroup });
    });
  }
  await t.step("another form", () => {
    assertThrows(
      () => parseSystemdPath("/docker/abc", "c1"),
      CgroupError,
      `linux.cgroupsPath: "/docker/abc" is not of the form "slice:prefix:name" that --systemd-cgroup needs`,
    );
  });
  await t.step("an empty name", () => {
    assertThrows(() => parseSystemdPath("system.slice:p:", "c1"), CgroupError, "(it is empty)");
  });
  await t.step("a slice as the name", () => {
    assertThrows(
      () => parseSystemdPath("system.slice:p:x.slice", "c1"),
      CgroupError,
      "creating a slice unit is not supported",
    );
  });
});

Deno.test("isSystemdCgroupsPath() and pinSystemdCgroupsPath()", () => {
  assert(isSystemdCgroupsPath("system.slice:docker:abc"));
  assert(isSystemdCgroupsPath("::abc"));
  assert(!isSystemdCgroupsPath("/docker/abc"));
  assert(!isSystemdCgroupsPath(undefined));
  const spec = { ociVersion: "1.2.0", linux: {} };
  pinSystemdCgroupsPath(spec, "c1");
  assertEquals(spec.linux, { cgroupsPath: "system.slice:runts:c1" });
  const given = { ociVersion: "1.2.0", linux: { cgroupsPath: "a.slice:p:n" } };
  pinSystemdCgroupsPath(given, "c1");
  assertEquals(given.linux.cgroupsPath, "a.slice:p:n");
});

Deno.test("cpusetMask() is systemd's byte mask of a cpuset list", () => {
  assertEquals([...cpusetMask("0-3,9", "f")], [0x0f, 0x02]);
  assertEquals([...cpusetMask("0", "f")], [0x01]);
  assertEquals([...cpusetMask("", "f")], []);
  assertThrows(() => cpusetMask("3-1", "f"), CgroupError, 'f: "3-1" is not a cpuset list');
});

const val = (props: UnitProperty[]) =>
  Object.fromEntries(
    props.map(([k, v]) => [k, v.value instanceof Uint8Array ? [...v.value] : v.value]),
  );

Deno.test("unitProperties() uses systemd's v2 names on v2 and v1 names elsewhere", async (t) => {
  const res = {
    memory: { limit: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024, swap: 128 * 1024 * 1024 },
    cpu: { shares: 512, quota: 25_000, period: 100_000, cpus: "0-1", mems: "0" },
    pids: { limit: 20 },
    blockIO: { weight: 500 },
  };
  await t.step("v2", () => {
    assertEquals(val(unitProperties(res, "v2")), {
      MemoryMax: 67108864n,
      MemoryLow: 33554432n,
      MemorySwapMax: 67108864n,
      CPUWeight: 20n,
      CPUQuotaPeriodUSec: 100000n,
      CPUQuotaPerSecUSec: 250000n,
      AllowedCPUs: [3],
      AllowedMemoryNodes: [1],
      TasksMax: 20n,
      IOWeight: 4950n,
    });
  });
  await t.step("v1", () => {
    assertEquals(val(unitProperties(res, "v1")), {
      MemoryLimit: 67108864n,
      CPUShares: 512n,
      CPUQuotaPeriodUSec: 100000n,
      CPUQuotaPerSecUSec: 250000n,
      TasksMax: 20n,
      BlockIOWeight: 500n,
    });
  });
  await t.step("-1 is infinity; quota rounds up to 10 ms per second", () => {
    const p = val(unitProperties({
      memory: { limit: -1 },
      pids: { limit: -1 },
      cpu: { quota: 1234, period: 100_000 },
    }, "v2"));
    assertEquals(p.MemoryMax, 0xffff_ffff_ffff_ffffn);
    assertEquals(p.TasksMax, 0xffff_ffff_ffff_ffffn);
    assertEquals(p.CPUQuotaPerSecUSec, 20000n);
  });
  await t.step("nothing set, nothing listed", () => assertEquals(unitProperties({}, "v2"), []));
});

Deno.test("deviceProperties() allows at least what the rules allow", async (t) => {
  const procDevices = () => "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
  await t.step("allow all is DevicePolicy=auto", () => {
    assertEquals(
      val(
        deviceProperties(
          [{ allow: true }, { allow: false, type: "c", major: 1, minor: 3 }],
          procDevices,
        ),
      ),
      {
        DevicePolicy: "auto",
      },
    );
  });
  await t.step("rules as strict DeviceAllow entries", () => {
    assertEquals(
      val(deviceProperties([
        { allow: false },
        { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
        { allow: true, type: "c", major: 136, access: "rw" },
        { allow: true, type: "b", major: 99, access: "r" },
        { allow: true, type: "a", access: "m" },
      ], procDevices)),
      {
        DevicePolicy: "strict",
        DeviceAllow: [
          ["/dev/char/1:3", "rwm"],
          ["char-pts", "rw"],
          ["block-*", "r"],
          ["char-*", "m"],
          ["block-*", "m"],
        ],
      },
    );
  });
});

/** A recording stand-in for systemd. */
function fakeSystemd(): { units: SystemdUnits; calls: [string, string, UnitProperty[]][] } {
  const calls: [string, string, UnitProperty[]][] = [];
  return {
    calls,
    units: {
      start: (unit, props) => void calls.push(["start", unit, props]),
      set: (unit, props) => void calls.push(["set", unit, props]),
      stop: (unit) => void calls.push(["stop", unit, []]),
      close: () => {},
    },
  };
}

/** The manager of Docker's scope `docker-abc.scope` in system.slice, on a fake host. */
function dockerScope(
  h: ReturnType<typeof fakeHost>,
  units: SystemdUnits,
  kill: (pid: number) => void = () => {},
) {
  return cgroupManagerFor({
    cgroupsPath: "system.slice:docker:abc",
    id: "abc",
    systemd: true,
    systemdConnect: () => units,
    mountinfo: h.mountinfo,
    fsRoot: h.root,
    fs: h.fs,
    kill,
  });
}

Deno.test("SystemdManager: join() starts the scope with the pid, then writes the files", async (t) => {
  for (const mode of ["v2", "hybrid"] as const) {
    await t.step(mode, async () => {
      const h = fakeHost(mode);
      const sd = fakeSystemd();
      try {
        const cg = dockerScope(h, sd.units);
        assertEquals(cg.kind, "systemd");
        cg.create();
        cg.apply({ memory: { limit: 1048576 }, pids: { limit: 9 } });
        assertEquals(sd.calls, [], "nothing before join");
        cg.join!(4242);
        const [op, unit, props] = sd.calls[0]!;
        assertEquals([op, unit], ["start", "docker-abc.scope"]);
        const p = val(props);
        assertEquals(p.Slice, "system.slice");
        assertEquals(p.Delegate, true);
        assertEquals(p.PIDs, [4242]);
        assertEquals(p[mode === "v2" ? "MemoryMax" : "MemoryLimit"], 1048576n);
        assertEquals(p.TasksMax, 9n);
        const dir = mode === "v2"
          ? "system.slice/docker-abc.scope"
          : "pids/system.slice/docker-abc.scope";
        assertEquals(h.cat(`${dir}/pids.max`).trim(), "9");
        assert(h.writes().some((w) => w.path === `${dir}/cgroup.procs` && w.data === "4242"));
        if (mode === "hybrid") {
          // freezer is not systemd's on v1: the driver joins it through the files
          assert(
            h.writes().some((w) =>
              w.path === "freezer/system.slice/docker-abc.scope/cgroup.procs" && w.data === "4242"
            ),
          );
        }
        cg.update({ pids: { limit: 30 } });
        assertEquals(sd.calls[1]![0], "set");
        assertEquals(val(sd.calls[1]![2]), { TasksMax: 30n });
        assertEquals(h.cat(`${dir}/pids.max`).trim(), "30");
        await cg.destroy();
        assertEquals(sd.calls[2]!.slice(0, 2), ["stop", "docker-abc.scope"]);
        assert(!h.kernel.exists(`${h.root}/${dir}`), "scope directory removed");
      } finally {
        h.cleanup();
      }
    });
  }
});

Deno.test("SystemdManager: checkBeforeCreate() refuses unified keys a hybrid host cannot apply", async (t) => {
  for (const mode of ["v2", "hybrid"] as const) {
    await t.step(mode, () => {
      const h = fakeHost(mode);
      const sd = fakeSystemd();
      try {
        const cg = dockerScope(h, sd.units);
        const res = { unified: { "memory.max": "33554432" } };
        if (mode === "v2") assertEquals(checkBeforeCreate(cg, res), []);
        else {
          assertThrows(
            () => checkBeforeCreate(cg, res),
            CgroupError,
            'linux.resources.unified: "memory.max" cannot be set: this host is hybrid',
          );
        }
        assertEquals(sd.calls, [], "systemd is not asked anything");
      } finally {
        h.cleanup();
      }
    });
  }
});

Deno.test("SystemdManager: a unit that already runs is refused and left alone by destroy()", async () => {
  const h = fakeHost("v2");
  const calls: string[] = [];
  try {
    const units: SystemdUnits = {
      start: (unit) => {
        calls.push(`start ${unit}`);
        throw new CgroupError("", `systemd unit "${unit}" already exists and is active`, {
          code: "EEXIST",
        });
      },
      set: () => {},
      stop: (unit) => void calls.push(`stop ${unit}`),
      close: () => {},
    };
    const killed: number[] = [];
    const cg = dockerScope(h, units, (pid) => void killed.push(pid));
    cg.create();
    assertThrows(
      () => cg.join!(4242),
      CgroupError,
      'systemd unit "docker-abc.scope" already exists',
    );
    await cg.destroy();
    assertEquals(calls, ["start docker-abc.scope"]);
    assertEquals(killed, []);
  } finally {
    h.cleanup();
  }
});
