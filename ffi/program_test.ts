import { assertEquals, assertThrows } from "../tests/assert.ts";
import {
  F_IGNORE,
  F_SKIP_ON_ERR,
  F_SKIP_ON_OK,
  F_ZERO_FAILS,
  HEADER_SIZE,
  Program,
  RECORD_SIZE,
  REPORT_FD,
  ResultAddr,
  StrV,
} from "./program.ts";

function record(bytes: Uint8Array, i: number) {
  const dv = new DataView(bytes.buffer, HEADER_SIZE + RECORD_SIZE * i, RECORD_SIZE);
  return {
    nr: dv.getBigUint64(0, true),
    args: [0, 1, 2, 3, 4, 5].map((j) => dv.getBigUint64(8 + 8 * j, true)),
    refs: dv.getUint8(48 + 8),
    flags: dv.getUint8(57),
    ok1: dv.getUint16(58, true),
    ok2: dv.getUint16(60, true),
    skip: dv.getUint16(62, true),
  };
}

Deno.test("Program.encode() writes the header, immediates and references", () => {
  const p = new Program();
  const fd = p.call("openat", 257, [-100, 7n, 0]);
  p.call("close", 3, [fd]);
  const out = new Uint8Array(p.encodedSize());
  p.encode(out, 0x1000n, 9);
  const dv = new DataView(out.buffer);
  assertEquals(dv.getBigUint64(0, true), 2n);
  assertEquals(dv.getBigUint64(8, true), 9n);
  const r0 = record(out, 0);
  assertEquals(r0.nr, 257n);
  assertEquals(r0.args[0], 0xffff_ffff_ffff_ff9cn);
  assertEquals(r0.args[1], 7n);
  const r1 = record(out, 1);
  assertEquals(r1.refs, 1);
  assertEquals(r1.args[0], 0n);
});

Deno.test("Program.encode() places strings and argv arrays after the records", () => {
  const p = new Program();
  p.call("execve", 59, ["/bin/sh", new StrV(["sh", "-c"]), REPORT_FD]);
  const out = new Uint8Array(p.encodedSize());
  const base = 0x10000n;
  p.encode(out, base, 5);
  const r = record(out, 0);
  const strOff = Number(r.args[0]! - base);
  assertEquals(strOff, HEADER_SIZE + RECORD_SIZE);
  assertEquals(new TextDecoder().decode(out.subarray(strOff, strOff + 7)), "/bin/sh");
  assertEquals(out[strOff + 7], 0);
  const table = Number(r.args[1]! - base);
  const dv = new DataView(out.buffer);
  const first = Number(dv.getBigUint64(table, true) - base);
  const second = Number(dv.getBigUint64(table + 8, true) - base);
  assertEquals(new TextDecoder().decode(out.subarray(first, first + 2)), "sh");
  assertEquals(new TextDecoder().decode(out.subarray(second, second + 2)), "-c");
  assertEquals(dv.getBigUint64(table + 16, true), 0n);
  assertEquals(r.args[2], 5n, "REPORT_FD becomes the report fd");
});

Deno.test("Program.encode() turns labels into skip counts and flags", () => {
  const p = new Program();
  p.call("a", 1, [], { ok: [2, 17], onErrGoto: "end" });
  p.call("b", 2, [], { onOkGoto: "end", zeroFails: true });
  p.call("c", 3, [], { ignoreErrors: true });
  p.label("end");
  p.call("d", 4, []);
  const out = new Uint8Array(p.encodedSize());
  p.encode(out, 0n, 0);
  assertEquals(record(out, 0).flags, F_SKIP_ON_ERR);
  assertEquals(record(out, 0).skip, 2);
  assertEquals([record(out, 0).ok1, record(out, 0).ok2], [2, 17]);
  assertEquals(record(out, 1).flags, F_SKIP_ON_OK | F_ZERO_FAILS);
  assertEquals(record(out, 1).skip, 1);
  assertEquals(record(out, 2).flags, F_IGNORE);
});

Deno.test("Program.call() rejects forward references, labels and too many errnos", () => {
  const p = new Program();
  assertThrows(() => p.call("x", 1, [1, 2, 3, 4, 5, 6, 7]), Error, "more than six");
  assertThrows(() => p.call("x", 1, [], { ok: [1, 2, 3] }), Error, "at most two");
  p.label("back");
  p.call("y", 1, []);
  p.call("z", 1, [], { onOkGoto: "back" });
  assertThrows(() => p.encode(new Uint8Array(p.encodedSize()), 0n, 0), Error, "must come after");
});

Deno.test("Program.describe() prints one line per step with labels and references", () => {
  const p = new Program();
  const fd = p.call("openat", 257, [-100, "/proc", 0]);
  p.label("here");
  p.call("fchdir", 81, [fd], { ok: [2] });
  assertEquals(p.describe(), [
    '  0 openat(-100, "/proc", 0)',
    "  1 here: fchdir($0)  [ok=2]",
  ]);
});

Deno.test("Program.encode() gives a ResultAddr the address of that step's result slot", () => {
  const p = new Program();
  p.call("getpid", 39, []);
  const pid = p.call("getpid", 39, []);
  p.call("write", 1, [REPORT_FD, new ResultAddr(pid.index), 8]);
  const out = new Uint8Array(p.encodedSize());
  p.encode(out, 0x1000n, 9);
  assertEquals(record(out, 2).args[1], 0x1000n + BigInt(HEADER_SIZE + RECORD_SIZE * 1 + 64));
  assertEquals(record(out, 2).refs, 0);
  assertThrows(
    () => p.call("write", 1, [1, new ResultAddr(9), 8]),
    Error,
    "refers to a later step",
  );
});

Deno.test("Program.encodedSize() counts strings in UTF-8 as TextEncoder encodes them", () => {
  const strs = ["a", "é", "€", "😀", "\uD800é", "x\uDC00", "\uD800", "ab😀cd"];
  const p = new Program();
  for (const s of strs) p.call("open", 2, [s]);
  const enc = new TextEncoder();
  const data = strs.reduce((n, s) => n + ((enc.encode(s).byteLength + 1 + 7) & ~7), 0);
  assertEquals(p.encodedSize(), HEADER_SIZE + RECORD_SIZE * strs.length + data);
  // and the layout holds every string whole
  const out = new Uint8Array(p.encodedSize());
  p.encode(out, 0x10000n, 3);
});
