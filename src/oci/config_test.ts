import { assert, assertEquals, assertThrows } from "../../tests/assert.ts";
import { loadBundle, parseSpec } from "./config.ts";
import { defaultSpec } from "./default_spec.ts";
import { SpecError } from "./errors.ts";

// deno-lint-ignore no-explicit-any
type Doc = Record<string, any>;

/** A minimal valid config.json, with `edit` applied to it as an object. */
function doc(edit: (d: Doc) => void = () => {}): string {
  const d: Doc = {
    ociVersion: "1.2.0",
    root: { path: "rootfs" },
    process: { args: ["sh"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { namespaces: [{ type: "pid" }, { type: "mount" }] },
  };
  edit(d);
  return JSON.stringify(d, null, 2);
}

/** The SpecError parseSpec throws for the document. */
function specError(text: string, file = "config.json"): SpecError {
  return assertThrows(() => parseSpec(text, file), SpecError) as SpecError;
}

Deno.test("parseSpec() names the field path of a bad uid mapping", () => {
  const e = specError(doc((d) => {
    d.linux.namespaces.push({ type: "user" });
    d.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }];
  }));
  assertEquals(e.message, "config.json: linux.uidMappings[0].size: must be > 0");
  assertEquals(e.field, "linux.uidMappings[0].size");
  assertEquals(e.file, "config.json");
  assertEquals(e.reason, "must be > 0");
});

Deno.test("parseSpec() accepts the default spec and runc's spec and returns the document", () => {
  const spec = parseSpec(JSON.stringify(defaultSpec({ cgroupNamespace: false })));
  assertEquals(spec.process?.args, ["sh"]);
  assertEquals(spec.linux?.namespaces?.map((n) => n.type), [
    "pid",
    "network",
    "ipc",
    "uts",
    "mount",
  ]);
  const rootless = parseSpec(JSON.stringify(defaultSpec({ rootless: true, uid: 1000, gid: 1000 })));
  assertEquals(rootless.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
});

Deno.test("parseSpec() keeps unknown fields and drops null optional ones", () => {
  const spec = parseSpec(doc((d) => {
    d.experimental = { x: 1 };
    d.process.someFutureField = "kept";
    d.hostname = null;
  }));
  assertEquals((spec as unknown as Record<string, unknown>).experimental, { x: 1 });
  assertEquals((spec.process as unknown as Record<string, unknown>).someFutureField, "kept");
  assert(!("hostname" in spec));
});

Deno.test("parseSpec() reports a JSON syntax error with the file, line and column", async (t) => {
  await t.step("V8 gives the position", () => {
    const e = specError('{\n  "ociVersion": "1.2.0",\n}', "/b/config.json");
    assertEquals(
      e.message,
      "/b/config.json: invalid JSON at line 3, column 1: expected double-quoted property name",
    );
    assertEquals([e.line, e.column, e.field], [3, 1, ""]);
  });
  await t.step("V8 gives no position (unexpected token)", () => {
    const e = specError('{\n  "root": {"path": }\n}');
    assertEquals(e.message, "config.json: invalid JSON at line 2, column 20: unexpected token '}'");
    assertEquals([e.line, e.column], [2, 20]);
  });
  await t.step("unexpected end", () => {
    const e = specError('{"a": [1,\n2');
    assertEquals([e.line, e.column], [2, 2]);
  });
  await t.step("empty file", () => {
    const e = specError("");
    assertEquals(
      e.message,
      "config.json: invalid JSON at line 1, column 1: unexpected end of JSON input",
    );
  });
});

Deno.test("parseSpec() rejects a document that is not an object", () => {
  assertEquals(specError("[1]").message, "config.json: must be a JSON object, not an array");
});

Deno.test("parseSpec() checks required fields and types", async (t) => {
  const cases: [string, (d: Doc) => void, string][] = [
    ["missing ociVersion", (d) => delete d.ociVersion, "ociVersion: is required"],
    ["ociVersion type", (d) => (d.ociVersion = 1), "ociVersion: must be a string, not 1"],
    [
      "ociVersion format",
      (d) => (d.ociVersion = "1.2"),
      'ociVersion: must be a SemVer version like "1.2.0", not "1.2"',
    ],
    [
      "ociVersion major",
      (d) => (d.ociVersion = "2.0.0"),
      'ociVersion: version "2.0.0" is not supported (runts supports 1.x)',
    ],
    ["missing root", (d) => delete d.root, "root: is required"],
    ["root.path type", (d) => (d.root.path = 5), "root.path: must be a string, not 5"],
    ["root.path empty", (d) => (d.root.path = ""), "root.path: must not be empty"],
    ["missing args", (d) => delete d.process.args, "process.args: is required"],
    ["empty args", (d) => (d.process.args = []), "process.args: must not be empty"],
    ["args entry", (d) => (d.process.args = ["sh", 3]), "process.args[1]: must be a string, not 3"],
    [
      "cwd relative",
      (d) => (d.process.cwd = "tmp"),
      'process.cwd: must be an absolute path, not "tmp"',
    ],
    ["missing cwd", (d) => delete d.process.cwd, "process.cwd: is required"],
    [
      "env without =",
      (d) => (d.process.env = ["A=1", "FOO"]),
      'process.env[1]: must be of the form "KEY=value", not "FOO"',
    ],
    [
      "env empty key",
      (d) => (d.process.env = ["=x"]),
      'process.env[0]: must be of the form "KEY=value", not "=x"',
    ],
    [
      "user.uid",
      (d) => (d.process.user = { uid: -1, gid: 0 }),
      "process.user.uid: must be between 0 and 4294967295, not -1",
    ],
    ["user.gid missing", (d) => (d.process.user = { uid: 0 }), "process.user.gid: is required"],
    [
      "terminal type",
      (d) => (d.process.terminal = "yes"),
      'process.terminal: must be a boolean, not "yes"',
    ],
    [
      "oomScoreAdj range",
      (d) => (d.process.oomScoreAdj = 1001),
      "process.oomScoreAdj: must be between -1000 and 1000, not 1001",
    ],
    [
      "mount destination relative",
      (d) => d.mounts.push({ destination: "data", type: "tmpfs" }),
      'mounts[1].destination: must be an absolute path, not "data"',
    ],
    [
      "mount destination missing",
      (d) => d.mounts.push({ type: "tmpfs" }),
      "mounts[1].destination: is required",
    ],
    [
      "mount options",
      (d) => (d.mounts[0].options = ["ro", 1]),
      "mounts[0].options[1]: must be a string, not 1",
    ],
    [
      "annotation value",
      (d) => (d.annotations = { "io.x.y": 1 }),
      'annotations["io.x.y"]: must be a string, not 1',
    ],
    [
      "sysctl value",
      (d) => (d.linux.sysctl = { "net.ipv4.ip_forward": 1 }),
      'linux.sysctl["net.ipv4.ip_forward"]: must be a string, not 1',
    ],
    [
      "masked path relative",
      (d) => (d.linux.maskedPaths = ["/proc/kcore", "proc/keys"]),
      'linux.maskedPaths[1]: must be an absolute path, not "proc/keys"',
    ],
    [
      "device type",
      (d) => (d.linux.devices = [{ path: "/dev/x", type: "z", major: 1, minor: 1 }]),
      'linux.devices[0].type: unknown type "z" (known: "c", "b", "u", "p")',
    ],
    [
      "device major",
      (d) => (d.linux.devices = [{ path: "/dev/x", type: "c", minor: 1 }]),
      "linux.devices[0].major: is required",
    ],
    [
      "seccomp action",
      (d) => (d.linux.seccomp = { defaultAction: "ALLOW" }),
      'linux.seccomp.defaultAction: unknown action "ALLOW" (known: "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY")',
    ],
    [
      "seccomp arg index",
      (d) => (d.linux.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{
          names: ["x"],
          action: "SCMP_ACT_ERRNO",
          args: [{ index: 6, value: 0, op: "SCMP_CMP_EQ" }],
        }],
      }),
      "linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5, not 6",
    ],
    [
      "rootfsPropagation",
      (d) => (d.linux.rootfsPropagation = "everywhere"),
      'linux.rootfsPropagation: unknown propagation "everywhere" (known: "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable")',
    ],
    [
      "resources pids",
      (d) => (d.linux.resources = { pids: { limit: "10" } }),
      'linux.resources.pids.limit: must be an integer, not "10"',
    ],
    [
      "resources device access",
      (d) => (d.linux.resources = { devices: [{ allow: true, access: "x" }] }),
      'linux.resources.devices[0].access: must name at least one of "r", "w" and "m", not "x"',
    ],
    [
      "personality",
      (d) => (d.linux.personality = { domain: "LINUX64" }),
      'linux.personality.domain: unknown domain "LINUX64" (known: "LINUX", "LINUX32")',
    ],
  ];
  for (const [name, edit, msg] of cases) {
    await t.step(name, () => {
      assertEquals(specError(doc(edit)).message, `config.json: ${msg}`);
    });
  }
});

Deno.test("parseSpec() rejects unknown and duplicate namespace types", () => {
  const unknown = specError(doc((d) => d.linux.namespaces.push({ type: "net" })));
  assertEquals(unknown.field, "linux.namespaces[2].type");
  assertEquals(
    unknown.reason,
    'unknown namespace type "net" (known: "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")',
  );
  const dup = specError(
    doc((d) => d.linux.namespaces.push({ type: "pid", path: "/proc/1/ns/pid" })),
  );
  assertEquals(
    dup.message,
    'config.json: linux.namespaces[2].type: duplicate "pid" namespace (also in linux.namespaces[0])',
  );
  const path = specError(doc((d) => d.linux.namespaces.push({ type: "network", path: 3 })));
  assertEquals(path.message, "config.json: linux.namespaces[2].path: must be a string, not 3");
});

Deno.test("parseSpec() checks rlimits: known types, no duplicates, soft <= hard", () => {
  const rl = (r: unknown[]) => doc((d) => (d.process.rlimits = r));
  assertEquals(
    specError(rl([{ type: "RLIMIT_FOO", hard: 1, soft: 1 }])).message,
    'config.json: process.rlimits[0].type: unknown resource "RLIMIT_FOO"',
  );
  assertEquals(
    specError(rl([
      { type: "RLIMIT_NOFILE", hard: 1, soft: 1 },
      { type: "RLIMIT_NOFILE", hard: 2, soft: 2 },
    ])).message,
    'config.json: process.rlimits[1].type: duplicate "RLIMIT_NOFILE" (also in process.rlimits[0])',
  );
  assertEquals(
    specError(rl([{ type: "RLIMIT_NOFILE", hard: 1024, soft: 2048 }])).message,
    "config.json: process.rlimits[0].soft: must not exceed hard (1024), not 2048",
  );
  assertEquals(
    specError(rl([{ type: "RLIMIT_CORE", soft: 0 }])).message,
    "config.json: process.rlimits[0].hard: is required",
  );
  // 2^64-1 (RLIM_INFINITY) arrives rounded to 2^64 and is accepted.
  const spec = parseSpec(
    doc((d) => (d.process.rlimits = [])).replace(
      '"rlimits": []',
      '"rlimits": [{"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 18446744073709551615}]',
    ),
  );
  assertEquals(spec.process?.rlimits?.[0]?.hard, 2 ** 64);
});

Deno.test("parseSpec() checks capability names", () => {
  const e = specError(
    doc((d) => (d.process.capabilities = { bounding: ["CAP_KILL", "NET_ADMIN"] })),
  );
  assertEquals(
    e.message,
    'config.json: process.capabilities.bounding[1]: must be a CAP_* name, not "NET_ADMIN"',
  );
  // Well-formed names unknown to this kernel pass (as with runc, which ignores them).
  parseSpec(doc((d) => (d.process.capabilities = { ambient: ["CAP_FUTURE_THING"] })));
});

Deno.test("parseSpec() checks hooks: absolute path, env, timeout > 0", () => {
  const hook = (h: unknown) =>
    doc((d) => (d.hooks = { createRuntime: [{ path: "/bin/true" }, h] }));
  assertEquals(
    specError(hook({ path: "true" })).message,
    'config.json: hooks.createRuntime[1].path: must be an absolute path, not "true"',
  );
  assertEquals(
    specError(hook({ path: "/x", timeout: 0 })).message,
    "config.json: hooks.createRuntime[1].timeout: must be > 0",
  );
  assertEquals(
    specError(hook({ path: "/x", env: ["NOPE"] })).message,
    'config.json: hooks.createRuntime[1].env[0]: must be of the form "KEY=value", not "NOPE"',
  );
});

Deno.test("parseSpec() checks timeOffsets clocks and values", () => {
  const t = (o: unknown) => doc((d) => (d.linux.timeOffsets = o));
  const spec = parseSpec(t({ monotonic: { secs: -5, nanosecs: 10 }, boottime: { secs: 3600 } }));
  assertEquals(spec.linux?.timeOffsets?.monotonic, { secs: -5, nanosecs: 10 });
  assertEquals(
    specError(t({ realtime: { secs: 1 } })).message,
    'config.json: linux.timeOffsets.realtime: unknown clock (known: "monotonic", "boottime")',
  );
  assertEquals(
    specError(t({ boottime: { nanosecs: 1_000_000_000 } })).message,
    "config.json: linux.timeOffsets.boottime.nanosecs: must be between 0 and 999999999, not 1000000000",
  );
  assertEquals(
    specError(t({ boottime: { secs: "1" } })).message,
    'config.json: linux.timeOffsets.boottime.secs: must be an integer, not "1"',
  );
});

Deno.test("parseSpec() checks mount id mappings", () => {
  const e = specError(doc((d) =>
    d.mounts.push({
      destination: "/data",
      type: "bind",
      source: "/srv",
      uidMappings: [{ containerID: 0, hostID: 1000 }],
    })
  ));
  assertEquals(e.message, "config.json: mounts[1].uidMappings[0].size: is required");
});

Deno.test("SpecError.toJSON() round-trips through JSON", () => {
  const e = specError("{", "/b/config.json");
  const j = JSON.parse(JSON.stringify(e));
  assertEquals(j, {
    name: "SpecError",
    message: "/b/config.json: invalid JSON at line 1, column 2: expected property name or '}'",
    file: "/b/config.json",
    field: "",
    reason: "invalid JSON at line 1, column 2: expected property name or '}'",
    line: 1,
    column: 2,
  });
  const back = SpecError.fromJSON(j);
  assertEquals([back.message, back.line, back.column], [e.message, 1, 2]);
  const f = new SpecError("process.cwd", "is required");
  assertEquals(JSON.parse(JSON.stringify(f)), {
    name: "SpecError",
    message: "config.json: process.cwd: is required",
    file: "config.json",
    field: "process.cwd",
    reason: "is required",
  });
});

Deno.test("loadBundle() resolves the bundle and the rootfs to absolute paths", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.mkdirSync(`${dir}/rootfs`);
    Deno.writeTextFileSync(`${dir}/config.json`, doc());
    const cwd = Deno.cwd();
    Deno.chdir(dir);
    try {
      const b = loadBundle(".");
      const real = Deno.realPathSync(dir);
      assertEquals(b.bundle, real);
      assertEquals(b.rootfs, `${real}/rootfs`);
      assertEquals(b.spec.root?.path, "rootfs");
    } finally {
      Deno.chdir(cwd);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadBundle() names what is missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assertThrows(() => loadBundle(`${dir}/nope`), Error, `bundle "${dir}/nope": no such directory`);
    assertEquals(
      assertThrows(() => loadBundle(dir)).message,
      `bundle "${dir}": config.json not found`,
    );
    Deno.writeTextFileSync(`${dir}/config.json`, doc());
    assertEquals(
      assertThrows(() => loadBundle(dir)).message,
      `rootfs "${dir}/rootfs": no such directory`,
    );
    Deno.writeTextFileSync(`${dir}/rootfs`, "");
    assertEquals(
      assertThrows(() => loadBundle(dir)).message,
      `rootfs "${dir}/rootfs": not a directory`,
    );
    Deno.writeTextFileSync(`${dir}/config.json`, doc((d) => (d.process.cwd = "x")));
    const e = assertThrows(() => loadBundle(dir), SpecError) as SpecError;
    assertEquals(e.message, `${dir}/config.json: process.cwd: must be an absolute path, not "x"`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
