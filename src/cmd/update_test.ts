import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { SpecError } from "../oci/errors.ts";
import { parsePauseArgs } from "./pause.ts";
import { parseResumeArgs } from "./resume.ts";
import {
  parseResourcesJSON,
  parseSize,
  parseUpdateArgs,
  readUpdateResources,
  type UpdateInput,
} from "./update.ts";

Deno.test("parseSize() accepts runc's sizes (binary units)", async (t) => {
  const cases: [string, number][] = [
    ["100", 100],
    ["64m", 64 * 1024 * 1024],
    ["64M", 64 * 1024 * 1024],
    ["1g", 1024 ** 3],
    ["1gb", 1024 ** 3],
    ["1GiB", 1024 ** 3],
    ["512 MB", 512 * 1024 ** 2],
    ["1.5k", 1536],
    ["2t", 2 * 1024 ** 4],
    ["-1", -1],
  ];
  for (const [text, n] of cases) {
    await t.step(`${JSON.stringify(text)} -> ${n}`, () => assertEquals(parseSize(text), n));
  }
  for (const bad of ["", "abc", "64x", "-5m", "1.2.3m", "m"]) {
    await t.step(`${JSON.stringify(bad)} is refused`, () => {
      assertThrows(() => parseSize(bad), Error, "invalid size");
    });
  }
});

Deno.test("parseUpdateArgs() maps runc's flags onto LinuxResources", () => {
  const a = parseUpdateArgs([
    "--memory",
    "64m",
    "--memory-reservation=32m",
    "--memory-swap",
    "-1",
    "--cpu-share",
    "512",
    "--cpu-quota",
    "-1",
    "--cpu-period",
    "100000",
    "--cpu-rt-period",
    "1000000",
    "--cpu-rt-runtime",
    "950000",
    "--cpu-burst",
    "0",
    "--cpu-idle",
    "1",
    "--cpuset-cpus",
    "0-1",
    "--cpuset-mems",
    "0",
    "--pids-limit",
    "10",
    "--blkio-weight",
    "300",
    "c1",
  ]);
  assertEquals(a, {
    id: "c1",
    resources: {
      memory: { limit: 67108864, reservation: 33554432, swap: -1 },
      cpu: {
        shares: 512,
        quota: -1,
        period: 100000,
        burst: 0,
        realtimePeriod: 1000000,
        realtimeRuntime: 950000,
        idle: 1,
        cpus: "0-1",
        mems: "0",
      },
      pids: { limit: 10 },
      blockIO: { weight: 300 },
    },
    resourcesFile: undefined,
    l3CacheSchema: undefined,
    memBwSchema: undefined,
    warnings: [],
  });
});

Deno.test("parseUpdateArgs() flag forms and runc quirks", async (t) => {
  await t.step("nothing given: nothing changes", () => {
    assertEquals(parseUpdateArgs(["c1"]).resources, {});
  });
  await t.step("--cpu-shares beside runc's --cpu-share, single-dash forms", () => {
    assertEquals(parseUpdateArgs(["--cpu-shares=256", "c1"]).resources, { cpu: { shares: 256 } });
    assertEquals(parseUpdateArgs(["-memory", "1g", "c1"]).resources, {
      memory: { limit: 1073741824 },
    });
  });
  await t.step("--blkio-weight 0 and empty values are unset", () => {
    assertEquals(parseUpdateArgs(["--blkio-weight", "0", "--memory=", "c1"]).resources, {});
  });
  await t.step("--pids-limit 0 means no limit", () => {
    assertEquals(parseUpdateArgs(["--pids-limit", "0", "c1"]).resources, { pids: { limit: 0 } });
  });
  await t.step("kernel memory flags are accepted and ignored with a warning", () => {
    const a = parseUpdateArgs(["--kernel-memory", "10m", "c1"]);
    assertEquals(a.resources, {});
    assertEquals(a.warnings, ["--kernel-memory is ignored: kernel memory limits are obsolete"]);
  });
  await t.step("Intel RDT schemas", () => {
    const a = parseUpdateArgs(["--l3-cache-schema", "L3:0=ff", "--mem-bw-schema", "MB:0=70", "c1"]);
    assertEquals([a.l3CacheSchema, a.memBwSchema], ["L3:0=ff", "MB:0=70"]);
  });
  await t.step("-r - and --resources FILE", () => {
    assertEquals(parseUpdateArgs(["-r", "-", "c1"]).resourcesFile, "-");
    assertEquals(parseUpdateArgs(["--resources=/tmp/r.json", "c1"]).resourcesFile, "/tmp/r.json");
  });
});

Deno.test("parseUpdateArgs() errors", async (t) => {
  const cases: [string[], string][] = [
    [[], "update: expected one container id, got 0"],
    [["a", "b"], "update: expected one container id, got 2"],
    [["--memroy", "1m", "c1"], 'update: unknown flag "--memroy"'],
    [["c1", "--memory"], 'update: flag "--memory" needs a value'],
    [["--memory", "lots", "c1"], 'update: --memory: invalid size: "lots"'],
    [["--cpu-period", "-5", "c1"], 'update: --cpu-period: invalid unsigned integer: "-5"'],
    [["--pids-limit", "1.5", "c1"], 'update: --pids-limit: invalid integer: "1.5"'],
    [["-r", "-", "--memory", "1m", "c1"], "update: --resources replaces the other flags"],
  ];
  for (const [argv, msg] of cases) {
    await t.step(argv.join(" ") || "(none)", () => {
      assertThrows(() => parseUpdateArgs(argv), Error, msg);
    });
  }
});

Deno.test("readUpdateResources() reads the JSON Docker sends on stdin", () => {
  const docker = JSON.stringify({
    memory: { limit: 0, reservation: 0, kernel: 0 },
    cpu: { shares: 0, quota: 150000, period: 100000, realtimeRuntime: 0, realtimePeriod: 0 },
    blockIO: { weight: 0 },
    pids: { limit: -1 },
  });
  const input: UpdateInput = {
    readStdin: () => docker,
    readFile: () => {
      throw new Error("No such file or directory (os error 2)");
    },
  };
  assertEquals(readUpdateResources(parseUpdateArgs(["-r", "-", "c1"]), input), JSON.parse(docker));
  assertThrows(
    () => readUpdateResources(parseUpdateArgs(["-r", "/nope.json", "c1"]), input),
    Error,
    'update: --resources "/nope.json": No such file or directory',
  );
  const flags = parseUpdateArgs(["--memory", "1m", "c1"]);
  assertEquals(readUpdateResources(flags, input), { memory: { limit: 1048576 } });
});

Deno.test("parseResourcesJSON() errors name the source and the field", () => {
  assertThrows(() => parseResourcesJSON("{", "stdin"), Error, "stdin: invalid JSON");
  assertThrows(() => parseResourcesJSON("[]", "stdin"), Error, "stdin: must be a JSON object");
  assertThrows(
    () => parseResourcesJSON('{"memory":{"limit":"64m"}}', "r.json"),
    SpecError,
    "r.json: linux.resources.memory.limit: must be an integer",
  );
});

Deno.test("parsePauseArgs() and parseResumeArgs() take one id", () => {
  assertEquals(parsePauseArgs(["c1"]), { id: "c1" });
  assertEquals(parseResumeArgs(["c1"]), { id: "c1" });
  assertThrows(() => parsePauseArgs([]), Error, "pause: expected one container id, got 0");
  assertThrows(
    () => parseResumeArgs(["a", "b"]),
    Error,
    "resume: expected one container id, got 2",
  );
  assertThrows(() => parsePauseArgs(["--all", "c1"]), Error);
});
