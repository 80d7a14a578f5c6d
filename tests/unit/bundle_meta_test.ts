import { assertEquals, assertStringIncludes, assertThrows } from "../assert.ts";
import { sourcesText, unparsed } from "../../scripts/bundle_meta.ts";

Deno.test("sourcesText: the repository's modules and the bundling scripts, sorted", () => {
  const text = sourcesText("/r/", [
    "file:///r/src/b.ts",
    "file:///r/main.ts",
    "file:///elsewhere/x.ts",
    "https://example.com/y.ts",
  ]);
  assertEquals(
    text.split("\n")[1],
    "fresh main.ts scripts/bundle.sh scripts/bundle_meta.ts src/b.ts",
  );
  assertThrows(() => sourcesText("/r", ["file:///r/src/a.ts"]), Error, "main.ts");
  assertThrows(
    () => sourcesText("/r", ["file:///r/main.ts", "file:///r/src/a%20b.ts"]),
    Error,
    "src/a b.ts",
  );
});

Deno.test("unparsed: names a file that does not parse, none when all do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "runts-bundle-meta-" });
  try {
    Deno.writeTextFileSync(`${dir}/good.js`, "export const a = 1;\n");
    assertEquals(await unparsed(dir, ["good.js"]), []);
    Deno.writeTextFileSync(`${dir}/bad.js`, "export const b = (1;\n");
    const bad = await unparsed(dir, ["good.js", "bad.js"]);
    assertEquals(bad.length, 1);
    assertStringIncludes(bad[0]!, "bad.js");
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["bad.js", "good.js"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
