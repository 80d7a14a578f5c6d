import { assertEquals, assertThrows } from "../../tests/assert.ts";
import type { LinuxDeviceCgroup } from "../oci/spec.ts";
import { CgroupError } from "./_common.ts";
import { DeviceEmulator, ruleLine } from "./device_emulator.ts";

const lines = (from: DeviceEmulator, to: DeviceEmulator) =>
  from.transition(to).map((r) => `${r.allow ? "allow" : "deny"} ${ruleLine(r)}`);

const DENY = { allow: false, access: "rwm" };

Deno.test("DeviceEmulator.fromSpec() ignores unknown access letters and merges rules", () => {
  const e = DeviceEmulator.fromSpec([
    DENY,
    { allow: true, type: "c", major: 1, minor: 11, access: "rwa" },
    { allow: true, type: "c", major: 1, minor: 11, access: "m" },
    { allow: false, type: "c", major: 1, minor: 11, access: "w" },
  ]);
  assertEquals(e.exceptions().map(ruleLine), ["c 1:11 rm"]);
  assertEquals(e.defaultAllow, false);
  assertThrows(
    () => DeviceEmulator.fromSpec([{ allow: true, access: "" }]),
    CgroupError,
    "linux.resources.devices[0].access: must not be empty",
  );
});

Deno.test("DeviceEmulator.fromSpec() names the field of a bad rule", () => {
  const cases: [LinuxDeviceCgroup[], string][] = [
    [[DENY, { allow: true, type: "x" }], 'linux.resources.devices[1].type: must be "a", "b"'],
    [[{ allow: true, access: "x" }], 'linux.resources.devices[0].access: "x" names none of'],
    [[{ allow: true, major: -2 }], "linux.resources.devices[0].major: must be -1 (any)"],
    [[{ allow: true, minor: 2 ** 31 }], "linux.resources.devices[0].minor: must be -1 (any)"],
    [[{ allow: true, minor: 1.5 }], "linux.resources.devices[0].minor"],
  ];
  for (const [rules, msg] of cases) {
    assertThrows(() => DeviceEmulator.fromSpec(rules), CgroupError, msg);
  }
});

Deno.test("DeviceEmulator.fromSpec() an `a` rule resets whatever came before", () => {
  const e = DeviceEmulator.fromSpec([
    DENY,
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    { allow: true, type: "a", access: "r" },
  ]);
  assertEquals(e.isAllowAll(), true);
});

Deno.test("DeviceEmulator.fromList() reads devices.list in both modes", () => {
  assertEquals(DeviceEmulator.fromList("a *:* rwm\n").isAllowAll(), true);
  const w = DeviceEmulator.fromList("c 1:3 rwm\nc 136:* rw\nb *:* m\n");
  assertEquals(w.exceptions().map(ruleLine), ["b *:* m", "c 1:3 rwm", "c 136:* rw"]);
  assertEquals(DeviceEmulator.fromList("").rules().map(ruleLine), ["a *:* rwm"]);
});

Deno.test("DeviceEmulator.transition() writes nothing between equal states", () => {
  const a = DeviceEmulator.fromList("c 1:3 rwm\nc 5:2 rwm\n");
  const b = DeviceEmulator.fromSpec([
    DENY,
    { allow: true, type: "c", major: 5, minor: 2, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  ]);
  assertEquals(lines(a, b), []);
  assertEquals(a.equals(b), true);
  assertEquals(a.opensWindowTo(b), false);
});

Deno.test("DeviceEmulator.transition() denies what goes before it allows what comes", () => {
  const a = DeviceEmulator.fromList("c 1:3 rwm\nc 1:11 rw\n");
  const b = DeviceEmulator.fromSpec([
    DENY,
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
    { allow: true, type: "c", major: 1, minor: 11, access: "r" },
    { allow: true, type: "c", major: 1, minor: 5, access: "rwm" },
  ]);
  assertEquals(lines(a, b), ["deny c 1:11 w", "allow c 1:5 rwm"]);
});

Deno.test("DeviceEmulator.transition() a change of default starts with an `a` rule", () => {
  const all = DeviceEmulator.fromList("a *:* rwm\n");
  const white = DeviceEmulator.fromSpec([DENY, { allow: true, type: "c", access: "m" }]);
  assertEquals(lines(all, white), ["deny a *:* rwm", "allow c *:* m"]);
  assertEquals(all.opensWindowTo(white), false, "deny-all first: nothing opens");
  const black = DeviceEmulator.fromSpec([
    { allow: true, access: "rwm" },
    { allow: false, type: "c", major: 1, minor: 11, access: "rwm" },
  ]);
  assertEquals(lines(white, black), ["allow a *:* rwm", "deny c 1:11 rwm"]);
  assertEquals(white.opensWindowTo(black), true, "allow-all, then the denies");
  // an allow-all cgroup hides its deny exceptions: they are reset and written again
  assertEquals(lines(all, black), ["allow a *:* rwm", "deny c 1:11 rwm"]);
  assertEquals(all.opensWindowTo(black), true);
});
