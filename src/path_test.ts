import * as node from "node:path";
import { assertEquals } from "../tests/assert.ts";
import { basename, dirname, isAbsolute, join, normalize, resolve } from "./path.ts";

const PATHS = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///a//b/",
  "a",
  "a/",
  "a/b/../c",
  "a/../..",
  "../a/./b/",
  "/..",
  "/../a/..",
  "/a/b/c",
  "/a/b/c/",
  "/a/./b/../../c/.",
  "./",
  "a/..",
  "dev/pts/ptmx",
  "/dev//null",
];

Deno.test("normalize, dirname, basename and isAbsolute give node:path's results", () => {
  for (const p of PATHS) {
    assertEquals(normalize(p), node.posix.normalize(p), `normalize ${JSON.stringify(p)}`);
    assertEquals(dirname(p), node.posix.dirname(p), `dirname ${JSON.stringify(p)}`);
    assertEquals(basename(p), node.posix.basename(p), `basename ${JSON.stringify(p)}`);
    assertEquals(isAbsolute(p), node.posix.isAbsolute(p), `isAbsolute ${JSON.stringify(p)}`);
  }
});

Deno.test("join and resolve give node:path's results", () => {
  for (const a of PATHS) {
    for (const b of ["", "x", "/y", "../z", "q/"]) {
      assertEquals(join(a, b), node.posix.join(a, b), `join ${JSON.stringify([a, b])}`);
      assertEquals(resolve(a, b), node.posix.resolve(a, b), `resolve ${JSON.stringify([a, b])}`);
    }
    assertEquals(join(a), node.posix.join(a));
    assertEquals(resolve(a), node.posix.resolve(a));
  }
  assertEquals(join(), node.posix.join());
  assertEquals(resolve(), node.posix.resolve());
  assertEquals(join("/sys/fs/cgroup", "", "memory", "a/b"), "/sys/fs/cgroup/memory/a/b");
});
