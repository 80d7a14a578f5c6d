import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { CgroupError, cgroupManagerFor, RootlessNoCgroup, RootlessV2Manager } from "./manager.ts";
import { requestedLimits } from "./rootless.ts";
import { fakeHost } from "./_test_utils.ts";
import type { LinuxResources } from "../oci/spec.ts";

/** Owners of the fake tree: `mine` belongs to uid 1000, every other existing path to root. */
function owners(mine?: string): (p: string) => number | undefined {
  return (p) => {
    try {
      Deno.lstatSync(p);
    } catch {
      return undefined;
    }
    return p === mine ? 1000 : 0;
  };
}

/**
 * The manager uid 1000 gets on the fake host `h` under the rootless rules, for a container asking
 * for `resources`; `mine` is the one path of the tree that user owns (a delegated subtree).
 */
function rootlessOn(
  h: ReturnType<typeof fakeHost>,
  cgroupsPath: string,
  id: string,
  resources: LinuxResources,
  mine?: string,
) {
  return cgroupManagerFor({
    cgroupsPath,
    id,
    fsRoot: h.root,
    mountinfo: h.mountinfo,
    fs: h.fs,
    uid: 1000,
    rootless: true,
    resources,
    ownerOf: owners(mine),
  });
}

Deno.test("requestedLimits() ignores device rules and empty sections", () => {
  assertEquals(requestedLimits(undefined), []);
  assertEquals(requestedLimits({ devices: [{ allow: false, access: "rwm" }] }), []);
  assertEquals(requestedLimits({ memory: {}, hugepageLimits: [] }), []);
  assertEquals(requestedLimits({ pids: { limit: 10 }, memory: { limit: 1 } }), ["pids", "memory"]);
});

Deno.test("cgroupManagerFor() for a non-root caller decides as runc rootless", async (t) => {
  for (const mode of ["hybrid", "v2", "v1"] as const) {
    await t.step(`${mode}: nothing delegated, no limits: no cgroup, with the reason`, () => {
      const h = fakeHost(mode);
      try {
        const cg = rootlessOn(h, "", "c1", { devices: [{ allow: false, access: "rwm" }] });
        assert(cg instanceof RootlessNoCgroup);
        const why = mode === "v1"
          ? "the host has no cgroup2 hierarchy to delegate"
          : `${JSON.stringify(mode === "v2" ? h.root : `${h.root}/unified`)} (for ${
            JSON.stringify(`${mode === "v2" ? h.root : `${h.root}/unified`}/runts/c1`)
          }) is not delegated to uid 1000`;
        assertEquals(cg.reason, `rootless: running without a cgroup of its own: ${why}`);
        assertEquals(cg.procsFiles(), []);
        assertEquals(h.writes(), []);
      } finally {
        h.cleanup();
      }
    });
  }
  await t.step("limits and nothing delegated: an error naming them", () => {
    const h = fakeHost("hybrid");
    try {
      assertThrows(
        () => rootlessOn(h, "/deleg/c1", "c1", { pids: { limit: 5 } }),
        CgroupError,
        `rootless: pids requested, but ${JSON.stringify(`${h.root}/unified`)} (for ${
          JSON.stringify(`${h.root}/unified/deleg/c1`)
        }) is not delegated to uid 1000`,
      );
    } finally {
      h.cleanup();
    }
  });
  await t.step("a delegated subtree: a v2 manager there, device rules left out", () => {
    const h = fakeHost("hybrid");
    try {
      Deno.mkdirSync(`${h.root}/unified/deleg`);
      const cg = rootlessOn(
        h,
        "/deleg/c1",
        "c1",
        { pids: { limit: 5 } },
        `${h.root}/unified/deleg`,
      );
      assert(cg instanceof RootlessV2Manager);
      assertEquals(cg.paths(), { "": `${h.root}/unified/deleg/c1` });
      assertEquals(cg.procsFiles(), [`${h.root}/unified/deleg/c1/cgroup.procs`]);
    } finally {
      h.cleanup();
    }
  });
  await t.step(
    "a delegated subtree: apply and update write limits and load no device program",
    () => {
      const h = fakeHost("v2");
      try {
        h.fs.mkdirAll(`${h.root}/deleg`); // the fake kernel fills in a cgroup's files
        const cg = rootlessOn(h, "/deleg/c2", "c2", { pids: { limit: 5 } }, `${h.root}/deleg`);
        assert(cg instanceof RootlessV2Manager);
        cg.create();
        // A device program cannot be loaded on this fake directory: loading one would throw.
        const devices = [{ allow: false, access: "rwm" }];
        cg.apply({ pids: { limit: 5 }, devices });
        assertEquals(h.cat("deleg/c2/pids.max"), "5");
        cg.update({ pids: { limit: 7 }, devices });
        assertEquals(h.cat("deleg/c2/pids.max"), "7");
      } finally {
        h.cleanup();
      }
    },
  );
  await t.step("not rootless: the root rules", () => {
    const h = fakeHost("hybrid");
    try {
      const cg = cgroupManagerFor({
        cgroupsPath: "",
        id: "c1",
        fsRoot: h.root,
        mountinfo: h.mountinfo,
        fs: h.fs,
        uid: 0,
        rootless: false,
      });
      assertEquals(cg.kind, "v1");
    } finally {
      h.cleanup();
    }
  });
});
