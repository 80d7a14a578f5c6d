import { assert, assertEquals, assertStringIncludes, assertThrows } from "../../tests/assert.ts";
import type { LinuxDeviceCgroup } from "../oci/spec.ts";
import {
  BPF_CGROUP_DEVICE,
  BPF_F_ALLOW_MULTI,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  type BpfInsn,
  decodeInsns,
  encodeInsns,
  progAttach,
  progLoad,
  progQuery,
} from "../../ffi/bpf.ts";
import { closeFd, openPath } from "../../ffi/process.ts";
import { CgroupError } from "./_common.ts";
import { applyDevicesV2 } from "./v2.ts";
import {
  applyDeviceProgram,
  attachedDevicePrograms,
  BPF_DEVCG_DEV_BLOCK as BLK,
  BPF_DEVCG_DEV_CHAR as CHR,
  deviceFilterProgram,
} from "./devices_bpf.ts";
import {
  ACC_MKNOD as M,
  ACC_READ as RD,
  ACC_WRITE as WR,
  fromSpecRule,
} from "./device_emulator.ts";

/** Rules written as in a spec, checked as runts checks them before it compiles them. */
const rulesOf = (rules: LinuxDeviceCgroup[]) =>
  rules.map((r, i) => fromSpecRule(r, `linux.resources.devices[${i}]`));

/** The filter of rules written as in a spec. */
const prog = (rules: LinuxDeviceCgroup[]) => deviceFilterProgram(rulesOf(rules));

/** A request as the kernel passes it in struct bpf_cgroup_dev_ctx. */
interface Req {
  type: number;
  access: number;
  major: number;
  minor: number;
}

const U64 = (1n << 64n) - 1n;
const U32 = (1n << 32n) - 1n;
const sext32 = (imm: number) => BigInt.asUintN(64, BigInt(imm | 0));

/**
 * A small eBPF interpreter for what the device filter uses (32-bit loads from the context,
 * ALU and ALU64 with immediates and registers, conditional forward jumps, exit), checking on
 * the way what the verifier would refuse: reads of unset registers, loads not from the
 * context, backward or out-of-range jumps, an exit without r0.
 */
function run(bytes: Uint8Array, req: Req): number {
  const prog = decodeInsns(bytes);
  // struct bpf_cgroup_dev_ctx, by offset
  const ctx: Record<number, number> = {
    0: ((req.access & 0xffff) << 16 | (req.type & 0xffff)) >>> 0,
    4: req.major >>> 0,
    8: req.minor >>> 0,
  };
  const reg: (bigint | "ctx" | undefined)[] = new Array(11).fill(undefined);
  reg[1] = "ctx";
  const val = (r: number, pc: number): bigint => {
    const v = reg[r];
    if (typeof v !== "bigint") throw new Error(`insn ${pc}: r${r} is ${v ?? "unset"}`);
    return v;
  };
  for (let pc = 0, steps = 0; steps < 4096; steps++) {
    const i: BpfInsn | undefined = prog[pc];
    if (i === undefined) throw new Error(`fell off the program at ${pc}`);
    const cls = i.code & 0x07;
    const op = i.code & 0xf0;
    const byReg = (i.code & 0x08) !== 0;
    if (cls === 0x01) { // LDX
      if (i.code !== 0x61) throw new Error(`insn ${pc}: only 32-bit loads, not ${i.code}`);
      if (reg[i.src] !== "ctx") throw new Error(`insn ${pc}: load from r${i.src}, not the context`);
      if (i.off < 0 || i.off > 8 || i.off % 4 !== 0) throw new Error(`insn ${pc}: ctx+${i.off}`);
      reg[i.dst] = BigInt(ctx[i.off]!);
      pc++;
    } else if (cls === 0x04 || cls === 0x07) { // ALU, ALU64
      const wide = cls === 0x07;
      const b = byReg ? val(i.src, pc) : wide ? sext32(i.imm) : BigInt(i.imm >>> 0);
      const a = op === 0xb0 ? 0n : val(i.dst, pc);
      let r: bigint;
      if (op === 0xb0) r = b;
      else if (op === 0x50) r = a & b;
      else if (op === 0x40) r = a | b;
      else if (op === 0x70) r = wide ? a >> (b & 63n) : (a & U32) >> (b & 31n);
      else throw new Error(`insn ${pc}: ALU op ${op}`);
      reg[i.dst] = wide ? r & U64 : r & U32;
      pc++;
    } else if (cls === 0x05) { // JMP
      if (op === 0x90) {
        const r0 = val(0, pc);
        return Number(r0 & U32);
      }
      if (i.off < 0) throw new Error(`insn ${pc}: backward jump`);
      const a = val(i.dst, pc);
      const b = byReg ? val(i.src, pc) : sext32(i.imm);
      let take: boolean;
      if (op === 0x00) take = true;
      else if (op === 0x10) take = a === b;
      else if (op === 0x50) take = a !== b;
      else throw new Error(`insn ${pc}: jump op ${op}`);
      pc += 1 + (take ? i.off : 0);
      if (pc > prog.length) throw new Error(`insn ${pc}: jump out of the program`);
    } else {
      throw new Error(`insn ${pc}: class ${cls}`);
    }
  }
  throw new Error("too many steps");
}

/** The same decision from the rules directly: each access by the last rule covering it. */
function model(rules: readonly LinuxDeviceCgroup[], q: Req): number {
  const bits = (a: string) =>
    (a.includes("m") ? M : 0) | (a.includes("r") ? RD : 0) | (a.includes("w") ? WR : 0);
  let left = q.access;
  for (let k = rules.length - 1; k >= 0 && left !== 0; k--) {
    const r = rules[k]!;
    const t = r.type ?? "a";
    if (t !== "a" && (t === "c" ? CHR : BLK) !== q.type) continue;
    if (r.major !== undefined && r.major !== -1 && r.major !== q.major) continue;
    if (r.minor !== undefined && r.minor !== -1 && r.minor !== q.minor) continue;
    const acc = bits(r.access ?? "rwm");
    if (!r.allow && (left & acc) !== 0) return 0;
    if (r.allow) left &= ~acc;
  }
  return left === 0 && q.access !== 0 ? 1 : 0;
}

const c = (major: number, minor: number, access: number): Req => ({
  type: CHR,
  major,
  minor,
  access,
});
const b = (major: number, minor: number, access: number): Req => ({
  type: BLK,
  major,
  minor,
  access,
});
const count = (rules: LinuxDeviceCgroup[]) => prog(rules).byteLength / 8;

const DENY_ALL: LinuxDeviceCgroup = { allow: false, access: "rwm" };
const allow = (
  type: string,
  major: number | undefined,
  minor: number | undefined,
  access: string,
): LinuxDeviceCgroup => ({
  allow: true,
  type,
  ...(major !== undefined ? { major } : {}),
  ...(minor !== undefined ? { minor } : {}),
  access,
});
const deny = (
  type: string,
  major: number | undefined,
  minor: number | undefined,
  access: string,
): LinuxDeviceCgroup => ({ ...allow(type, major, minor, access), allow: false });

/** Docker's default rules: deny everything, then runc's allowed devices. */
const DOCKER: LinuxDeviceCgroup[] = [
  DENY_ALL,
  allow("c", undefined, undefined, "m"),
  allow("b", undefined, undefined, "m"),
  allow("c", 1, 3, "rwm"), // null
  allow("c", 1, 8, "rwm"), // random
  allow("c", 1, 7, "rwm"), // full
  allow("c", 5, 0, "rwm"), // tty
  allow("c", 1, 5, "rwm"), // zero
  allow("c", 1, 9, "rwm"), // urandom
  allow("c", 5, 1, "rwm"), // console
  allow("c", 136, undefined, "rwm"), // pts/*
  allow("c", 5, 2, "rwm"), // ptmx
  allow("c", 10, 200, "rwm"), // net/tun
];

/** Devices and accesses every decision table is checked on. */
const PROBES: Req[] = (() => {
  const out: Req[] = [];
  const devs: [number, number][] = [[1, 3], [1, 5], [1, 9], [5, 0], [8, 0], [10, 200], [136, 0], [
    136,
    77,
  ], [0x7ffffff0, 3]];
  for (const type of [CHR, BLK]) {
    for (const [major, minor] of devs) {
      for (let access = 1; access <= 7; access++) out.push({ type, major, minor, access });
    }
  }
  return out;
})();

function checkAgainstModel(rules: LinuxDeviceCgroup[]): void {
  const p = prog(rules);
  for (const q of PROBES) {
    assertEquals(run(p, q), model(rules, q), `${JSON.stringify(rules)} on ${JSON.stringify(q)}`);
  }
}

Deno.test("deviceFilterProgram() starts by loading type, access, major and minor from the context", () => {
  const insns = decodeInsns(prog([DENY_ALL]));
  assertEquals(insns, [
    { code: 0x61, dst: 2, src: 1, off: 0, imm: 0 }, // r2 = ctx->access_type
    { code: 0x54, dst: 2, src: 0, off: 0, imm: 0xffff }, // w2 &= 0xffff
    { code: 0x61, dst: 3, src: 1, off: 0, imm: 0 }, // r3 = ctx->access_type
    { code: 0x74, dst: 3, src: 0, off: 0, imm: 16 }, // w3 >>= 16
    { code: 0x61, dst: 4, src: 1, off: 4, imm: 0 }, // r4 = ctx->major
    { code: 0x61, dst: 5, src: 1, off: 8, imm: 0 }, // r5 = ctx->minor
    { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, // r0 = 0
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }, // exit
  ]);
});

Deno.test("deviceFilterProgram() allow-all allows every device and access", () => {
  const p = prog([{ allow: true, access: "rwm" }]);
  assertEquals(p.byteLength / 8, 8);
  for (const q of PROBES) assertEquals(run(p, q), 1, JSON.stringify(q));
  // rules before an allow of everything are dead and not emitted
  assertEquals(count([DENY_ALL, deny("c", 1, 3, "rwm"), { allow: true, type: "a" }]), 8);
});

Deno.test("deviceFilterProgram() deny-all denies every device and access", () => {
  for (const rules of [[DENY_ALL], [{ allow: false, type: "a" }], []]) {
    const p = prog(rules);
    for (const q of PROBES) assertEquals(run(p, q), 0, JSON.stringify(q));
  }
});

Deno.test("deviceFilterProgram() deny-all + c 1:3 rwm + c *:* m", () => {
  const rules = [DENY_ALL, allow("c", 1, 3, "rwm"), allow("c", undefined, undefined, "m")];
  const p = prog(rules);
  assertEquals(p.byteLength / 8, 6 + 5 + 5 + 2);
  const cases: [string, Req, number][] = [
    ["read /dev/null", c(1, 3, RD), 1],
    ["write /dev/null", c(1, 3, WR), 1],
    ["open /dev/null O_RDWR", c(1, 3, RD | WR), 1],
    ["mknod /dev/null", c(1, 3, M), 1],
    ["read /dev/zero", c(1, 5, RD), 0],
    ["write /dev/zero", c(1, 5, WR), 0],
    ["mknod /dev/zero", c(1, 5, M), 1],
    ["mknod and read /dev/zero", c(1, 5, M | RD), 0],
    ["mknod of a block device", b(8, 0, M), 0],
    ["read a block device 1:3", b(1, 3, RD), 0],
  ];
  for (const [what, q, want] of cases) assertEquals(run(p, q), want, what);
  checkAgainstModel(rules);
});

Deno.test("deviceFilterProgram() wildcard major or minor", () => {
  const rules = [DENY_ALL, allow("c", 136, undefined, "rwm"), allow("b", undefined, 5, "r")];
  const p = prog(rules);
  const cases: [string, Req, number][] = [
    ["pts 0", c(136, 0, RD | WR), 1],
    ["pts 77", c(136, 77, WR), 1],
    ["major 137", c(137, 0, RD), 0],
    ["block 136:0", b(136, 0, RD), 0],
    ["block 8:5 read", b(8, 5, RD), 1],
    ["block 259:5 read", b(259, 5, RD), 1],
    ["block 8:5 write", b(8, 5, WR), 0],
    ["block 8:6 read", b(8, 6, RD), 0],
    ["char 8:5 read", c(8, 5, RD), 0],
  ];
  for (const [what, q, want] of cases) assertEquals(run(p, q), want, what);
  checkAgainstModel(rules);
  // type "a" with a major: both types
  const a = [DENY_ALL, allow("a", 8, undefined, "rw")];
  assertEquals(run(prog(a), c(8, 1, RD)), 1);
  assertEquals(run(prog(a), b(8, 1, WR)), 1);
  assertEquals(run(prog(a), b(9, 1, WR)), 0);
});

Deno.test("deviceFilterProgram() access subsets", () => {
  for (const access of ["r", "w", "m", "rw", "rm", "wm", "mwr"]) {
    const rules = [DENY_ALL, allow("c", 1, 3, access)];
    const p = prog(rules);
    for (let req = 1; req <= 7; req++) {
      const want = (req & ~((access.includes("r") ? RD : 0) | (access.includes("w") ? WR : 0) |
          (access.includes("m") ? M : 0))) === 0
        ? 1
        : 0;
      assertEquals(run(p, c(1, 3, req)), want, `allow ${access}, request ${req}`);
    }
    checkAgainstModel(rules);
  }
  // an access given by two rules
  const two = [DENY_ALL, allow("c", 1, 3, "r"), allow("c", 1, 3, "w")];
  assertEquals(run(prog(two), c(1, 3, RD | WR)), 1);
  assertEquals(run(prog(two), c(1, 3, M)), 0);
});

Deno.test("deviceFilterProgram() the last matching rule wins", () => {
  const cases: [string, LinuxDeviceCgroup[], Req, number][] = [
    [
      "a later deny of w",
      [DENY_ALL, allow("c", 1, 3, "rwm"), deny("c", 1, 3, "w")],
      c(1, 3, WR),
      0,
    ],
    [
      "a later deny of w, read",
      [DENY_ALL, allow("c", 1, 3, "rwm"), deny("c", 1, 3, "w")],
      c(1, 3, RD),
      1,
    ],
    [
      "a later deny of w, O_RDWR",
      [DENY_ALL, allow("c", 1, 3, "rwm"), deny("c", 1, 3, "w")],
      c(1, 3, RD | WR),
      0,
    ],
    ["a later allow", [DENY_ALL, deny("c", 1, 3, "rwm"), allow("c", 1, 3, "rwm")], c(1, 3, RD), 1],
    ["allow-all then deny one", [{ allow: true }, deny("c", 1, 5, "rwm")], c(1, 5, RD), 0],
    ["allow-all then deny one, other", [{ allow: true }, deny("c", 1, 5, "rwm")], c(1, 3, RD), 1],
    ["deny-all last", [allow("c", 1, 3, "rwm"), DENY_ALL], c(1, 3, RD), 0],
    [
      "deny of a whole major",
      [DENY_ALL, allow("c", 1, 3, "rwm"), deny("c", 1, undefined, "r")],
      c(
        1,
        3,
        RD,
      ),
      0,
    ],
    ["deny of all reads", [{ allow: true }, deny("a", undefined, undefined, "r")], b(8, 0, WR), 1],
    [
      "deny of all reads, read",
      [{ allow: true }, deny("a", undefined, undefined, "r")],
      b(8, 0, RD),
      0,
    ],
  ];
  for (const [what, rules, q, want] of cases) {
    assertEquals(run(prog(rules), q), want, what);
    assertEquals(model(rules, q), want, `model: ${what}`);
  }
});

Deno.test("deviceFilterProgram() agrees with the rules on random rule lists", () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!;
  for (let n = 0; n < 300; n++) {
    const rules: LinuxDeviceCgroup[] = [];
    for (let k = rnd(7); k > 0; k--) {
      const r = (pick([true, false]) ? allow : deny)(
        pick(["a", "b", "c", "c"]),
        pick([undefined, 1, 1, 8, 136]),
        pick([undefined, 0, 3, 5]),
        pick(["r", "w", "m", "rw", "rwm", "rwm", "wm"]),
      );
      rules.push(r);
    }
    checkAgainstModel(rules);
  }
});

Deno.test("deviceFilterProgram() Docker's default rules", () => {
  assertEquals(count(DOCKER), 67);
  const p = prog(DOCKER);
  assertEquals(run(p, c(1, 3, RD | WR)), 1);
  assertEquals(run(p, c(136, 4, RD | WR)), 1);
  assertEquals(run(p, c(10, 200, RD)), 1);
  assertEquals(run(p, b(8, 0, M)), 1);
  assertEquals(run(p, b(8, 0, RD)), 0);
  assertEquals(run(p, c(10, 229, RD)), 0); // fuse
  checkAgainstModel(DOCKER);
});

Deno.test("deviceFilterProgram() takes -1 as any device number, as runc's configs write it", () => {
  assertEquals(
    prog([DENY_ALL, allow("c", -1, -1, "m")]),
    prog([DENY_ALL, allow("c", undefined, undefined, "m")]),
  );
});

// ---- with the kernel ----

const isRoot = Deno.uid() === 0;

/** The cgroup2 mount point (/sys/fs/cgroup/unified on a hybrid host), if any. */
function cgroup2Mount(): string | undefined {
  try {
    for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
      const [pre, post] = line.split(" - ");
      if (post?.split(" ")[0] === "cgroup2") return pre!.split(" ")[4];
    }
  } catch {
    // no /proc
  }
  return undefined;
}

const mount = isRoot ? cgroup2Mount() : undefined;

/** Runs the probe inside the cgroup: exit status of a write to /dev/null, bytes of /dev/zero. */
async function probeIn(dir: string): Promise<{ out: string; err: string }> {
  const child = new Deno.Command("sh", {
    args: ["-c", "read x; echo hi > /dev/null; echo $?; head -c1 /dev/zero | wc -c"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(child.pid));
  } finally {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    await w.close();
  }
  const r = await child.output();
  const dec = new TextDecoder();
  return { out: dec.decode(r.stdout).replace(/\s+/g, " ").trim(), err: dec.decode(r.stderr) };
}

Deno.test({
  name: "applyDeviceProgram() is accepted by the verifier and enforced on a cgroup2 directory",
  ignore: mount === undefined,
  async fn() {
    const dir = `${mount}/runts-bpf-test-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(dir);
    try {
      // Docker's defaults load (the verifier accepts them)
      applyDeviceProgram(dir, rulesOf(DOCKER));
      assertEquals(attachedDevicePrograms(dir).length, 1);

      // only /dev/null
      applyDeviceProgram(dir, rulesOf([DENY_ALL, allow("c", 1, 3, "rwm")]));
      assertEquals(attachedDevicePrograms(dir).length, 1, "the previous program is detached");
      const denied = await probeIn(dir);
      assertEquals(denied.out, "0 0");
      assertStringIncludes(denied.err, "Operation not permitted");

      // a program of someone else's stays; runts' own is replaced
      const other = progLoad({
        type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insns: encodeInsns([
          { code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 },
          { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
        ]),
        license: "GPL",
        name: "not_runts",
      });
      const dirFd = openPath(dir, 0o200000);
      try {
        progAttach({ targetFd: dirFd, progFd: other, attachType: BPF_CGROUP_DEVICE });
        applyDeviceProgram(
          dir,
          rulesOf([DENY_ALL, allow("c", 1, 3, "rwm"), allow("c", 1, 5, "r")]),
        );
        const q = progQuery(dirFd, BPF_CGROUP_DEVICE);
        assertEquals(q.ids.length, 2);
        assertEquals(q.attachFlags, BPF_F_ALLOW_MULTI);
        assertEquals(attachedDevicePrograms(dir).length, 1);
      } finally {
        closeFd(dirFd);
        closeFd(other);
      }
      const allowed = await probeIn(dir);
      assertEquals(allowed.out, "0 1");
      assertEquals(allowed.err, "");
    } finally {
      Deno.removeSync(dir);
    }
  },
});

Deno.test({
  name: "applyDeviceProgram() names the cgroup when it is not a cgroup2 directory",
  ignore: !isRoot,
  fn() {
    const tmp = Deno.makeTempDirSync();
    try {
      const e = assertThrows(
        () => applyDeviceProgram(tmp, rulesOf([DENY_ALL])),
        CgroupError,
        `linux.resources.devices: listing the device programs of the cgroup ${
          JSON.stringify(tmp)
        }: bpf BPF_PROG_QUERY`,
      ) as CgroupError;
      assert(e.code !== undefined);
    } finally {
      Deno.removeSync(tmp);
    }
  },
});

Deno.test({
  name: "applyDevicesV2() enforces the rules as v1 would and detaches its filter for allow-all",
  ignore: mount === undefined,
  async fn() {
    const dir = `${mount}/runts-bpf-test-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(dir);
    try {
      // "rwa" is "rw", as with runc
      applyDevicesV2([DENY_ALL, allow("c", 1, 3, "rwa"), allow("c", 1, 5, "r")], dir);
      assertEquals(attachedDevicePrograms(dir).length, 1);
      assertEquals((await probeIn(dir)).out, "0 1");
      applyDevicesV2([{ allow: true, access: "rwm" }], dir);
      assertEquals(attachedDevicePrograms(dir), [], "allow-all needs no filter");
      applyDevicesV2([{ allow: true, access: "rwm" }], dir);
      assertEquals(attachedDevicePrograms(dir), []);
    } finally {
      Deno.removeSync(dir);
    }
  },
});
