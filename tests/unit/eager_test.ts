import { assertEquals, assertThrows } from "../assert.ts";
import { eagerText, importCircle, outline } from "../../scripts/eager.ts";

Deno.test("outline: top-level function declarations, not nested ones or expressions", () => {
  const src = [
    'import { a } from "./chunk-A.js";',
    'import "./chunk-B.js";',
    "var x = function notMe() { return 1; };",
    "function one(p = { k: 1 }, [q] = []) {",
    "  function inner() {}",
    "  return `}${p.k + `${q}}`}` + '}' + \"{\";",
    "}",
    "async function two() {",
    "  const re = /[}/]\\}/g; // }",
    "  return 4 / 2 / 1 + re.source.length; /* { */",
    "}",
    "function* three() {",
    "  yield /}/;",
    "}",
    "class C { m() { function notTop() {} } }",
    "if (x) {",
    "function inBlock() {}",
    "}",
    "export { one, two, three };",
    'export * from "./chunk-C.js";',
  ].join("\n");
  const o = outline(src);
  assertEquals(o.functions.map((f) => f.name), ["one", "two", "three"]);
  assertEquals(o.imports, ["./chunk-A.js", "./chunk-B.js", "./chunk-C.js"]);
  const one = o.functions[0]!;
  assertEquals(src.slice(one.start, one.end).split("\n").at(-1), "}");
  assertEquals(src.slice(one.start, one.start + 13), "function one(");
});

Deno.test("outline: a regular expression and a division told apart as a parser does", () => {
  const src = [
    "function f(x, i, o, s) {",
    "  if (x) /[(]/.test(s);",
    "  const a = i++ / 2 / 1, b = o.in / 2 / 1, c = `${/[{]/.source}`;",
    "  while (x) /\\}/g.exec(s);",
    "  return [a, b, c, x ? /[\\]]/ : 1, (1) / 2 / 3];",
    "}",
    "function g() {",
    "}",
  ].join("\n");
  assertEquals(outline(src).functions.map((f) => f.name), ["f", "g"]);
});

Deno.test("outline: text it does not understand throws", () => {
  assertThrows(() => outline("function f() {\n  return `x;\n}"), Error, "template");
  assertThrows(() => outline("function f() {\n  return (1;\n}"), Error, '"}" closes "("');
  assertThrows(() => outline("function f() {\n"), Error, "not closed");
});

Deno.test("eagerText: declarations become parenthesised expressions at the top, and still run", async () => {
  const src = [
    "const early = twice(2);",
    "function twice(n) {",
    "  return n * 2;",
    "}",
    "async function later() {",
    "  return early + twice(1);",
    "}",
    "export { early, later, twice };",
  ].join("\n");
  const out = eagerText(src, outline(src).functions);
  assertEquals(out.split("\n").slice(1, 3), [
    "var twice = (function(n) {",
    "  return n * 2;",
  ]);
  const url = `data:text/javascript;base64,${btoa(out)}`;
  const m = await import(url);
  assertEquals(m.early, 4);
  assertEquals(await m.later(), 6);
  assertEquals(m.twice.name, "twice");
});

Deno.test("eagerText: the module's binding inside the function, async and generators, #! first", async () => {
  const src = [
    "#!/usr/bin/env -S deno run",
    "function counter() {",
    "  counter = () => 2;",
    "  return 1;",
    "}",
    "async function* gen() {",
    "  yield await 3;",
    "}",
    "const first = counter(), second = counter();",
    "export { first, gen, second };",
  ].join("\n");
  const out = eagerText(src, outline(src).functions);
  assertEquals(out.split("\n")[0], "#!/usr/bin/env -S deno run");
  assertEquals(out.split("\n").filter((l) => l.startsWith("var ")), [
    "var counter = (function() {",
    "var gen = (async function*() {",
  ]);
  const m = await import(`data:text/javascript;base64,${btoa(out.slice(out.indexOf("\n") + 1))}`);
  assertEquals([m.first, m.second], [1, 2]);
  assertEquals(m.gen.name, "gen");
  for await (const v of m.gen()) assertEquals(v, 3);
});

Deno.test("importCircle: finds a circle of static imports, none in a tree", () => {
  const tree = new Map([["./m.js", ["./a.js", "./b.js"]], ["./a.js", ["./b.js"]], ["./b.js", []]]);
  assertEquals(importCircle(tree), undefined);
  const circle = new Map([["./m.js", ["./a.js"]], ["./a.js", ["./b.js"]], ["./b.js", ["./a.js"]]]);
  assertEquals(importCircle(circle), ["./a.js", "./b.js", "./a.js"]);
});
