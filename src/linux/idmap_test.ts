import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { checkMappings, helperArgs, parseSubIds, userName, writeMapsRootless } from "./idmap.ts";

const SUBUID = `# comment
alice:100000:65536
bob:165536:65536
1001:300000:10
broken line
carol:x:5
alice:500000:0
`;

Deno.test("parseSubIds() keeps the user's ranges by name or uid, skips malformed lines", async (t) => {
  await t.step("by name", () => {
    assertEquals(parseSubIds(SUBUID, "alice", 1000), [{ start: 100000, size: 65536 }]);
  });
  await t.step("by uid", () => {
    assertEquals(parseSubIds(SUBUID, "dave", 1001), [{ start: 300000, size: 10 }]);
  });
  await t.step("none", () => {
    assertEquals(parseSubIds(SUBUID, "carol", 1002), []);
    assertEquals(parseSubIds("", undefined, 1), []);
  });
});

Deno.test("checkMappings() accepts the caller's id and its ranges, names the one it refuses", async (t) => {
  const owned = { own: 1000, sub: [{ start: 100000, size: 65536 }] };
  await t.step("own id only: no helper", () => {
    assertEquals(
      checkMappings([{ containerID: 0, hostID: 1000, size: 1 }], owned, "f", "/etc/subuid"),
      false,
    );
  });
  await t.step("a subordinate range: helper", () => {
    const maps = [
      { containerID: 0, hostID: 1000, size: 1 },
      { containerID: 1, hostID: 100000, size: 65536 },
    ];
    assertEquals(checkMappings(maps, owned, "f", "/etc/subuid"), true);
  });
  await t.step("own id with size 2 goes beyond it", () => {
    assertThrows(
      () =>
        checkMappings(
          [{ containerID: 0, hostID: 1000, size: 2 }],
          owned,
          "linux.uidMappings",
          "/etc/subuid",
        ),
      Error,
      "linux.uidMappings[0]: host ids 1000-1001 are not the caller's (1000) and not in its /etc/subuid ranges (100000-165535)",
    );
  });
  await t.step("a range past the end of the subordinate one", () => {
    assertThrows(
      () =>
        checkMappings(
          [{ containerID: 0, hostID: 1000, size: 1 }, {
            containerID: 1,
            hostID: 100001,
            size: 65536,
          }],
          owned,
          "linux.gidMappings",
          "/etc/subgid",
        ),
      Error,
      "linux.gidMappings[1]: host ids 100001-165536 are not the caller's (1000) and not in its /etc/subgid ranges (100000-165535)",
    );
  });
  await t.step("no ranges at all", () => {
    assertThrows(
      () =>
        checkMappings(
          [{ containerID: 0, hostID: 0, size: 1 }],
          { own: 5, sub: [] },
          "m",
          "/etc/subuid",
        ),
      Error,
      "m[0]: host ids 0-0 are not the caller's (5) and not in its /etc/subuid ranges (none)",
    );
  });
});

Deno.test("helperArgs() is the pid then inside, outside, size triples", () => {
  assertEquals(
    helperArgs(42, [{ containerID: 0, hostID: 1000, size: 1 }, {
      containerID: 1,
      hostID: 100000,
      size: 65536,
    }]),
    ["42", "0", "1000", "1", "1", "100000", "65536"],
  );
});

Deno.test("userName() reads /etc/passwd text", () => {
  const passwd = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
  assertEquals(userName(1000, passwd), "alice");
  assertEquals(userName(7, passwd), undefined);
});

Deno.test("writeMapsRootless() writes own-id maps directly (setgroups denied first), others through the helpers", async (t) => {
  const base = { pid: 42, uid: 1000, gid: 1000, user: "alice", subuid: SUBUID, subgid: SUBUID };
  await t.step("own ids", () => {
    const ops: string[] = [];
    writeMapsRootless({
      ...base,
      uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
      writeProc: (f, text) => ops.push(`${f}=${text}`),
      runHelper: (p, a) => ops.push(`${p} ${a.join(" ")}`),
    });
    assertEquals(ops, ["uid_map=0 1000 1\n", "setgroups=deny", "gid_map=0 1000 1\n"]);
  });
  await t.step("subordinate ranges", () => {
    const ops: string[] = [];
    const maps = [{ containerID: 0, hostID: 1000, size: 1 }, {
      containerID: 1,
      hostID: 100000,
      size: 100,
    }];
    writeMapsRootless({
      ...base,
      uidMappings: maps,
      gidMappings: maps,
      writeProc: (f, text) => ops.push(`${f}=${text}`),
      runHelper: (p, a) => ops.push(`${p} ${a.join(" ")}`),
    });
    assertEquals(ops, [
      "/usr/bin/newuidmap 42 0 1000 1 1 100000 100",
      "/usr/bin/newgidmap 42 0 1000 1 1 100000 100",
    ]);
  });
  await t.step("an unowned mapping writes nothing", () => {
    const ops: string[] = [];
    assertThrows(
      () =>
        writeMapsRootless({
          ...base,
          uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
          gidMappings: [{ containerID: 0, hostID: 0, size: 1 }],
          writeProc: (f, text) => ops.push(`${f}=${text}`),
          runHelper: (p, a) => ops.push(`${p} ${a.join(" ")}`),
        }),
      Error,
      "linux.gidMappings[0]: host ids 0-0",
    );
    assertEquals(ops, []);
  });
  await t.step("a missing helper is named", () => {
    assertThrows(
      () =>
        writeMapsRootless({
          ...base,
          uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, {
            containerID: 1,
            hostID: 100000,
            size: 1,
          }],
          gidMappings: [],
          writeProc: () => {},
          newuidmap: "/nonexistent/newuidmap",
        }),
      Error,
      'newuidmap not found at /nonexistent/newuidmap: mapping ids beyond the caller\'s own needs it (install the "uidmap" package)',
    );
  });
});
