import { assert, assertEquals, assertStringIncludes } from "../../tests/assert.ts";
import { bashCompletion, commandManPage, generatedDocs, visibleCommands } from "./docs.ts";
import { GLOBAL_FLAGS } from "./defs.ts";

const repo = new URL("../..", import.meta.url).pathname;

Deno.test("docs/man and docs/completion are what `deno task docs` makes from the definitions", () => {
  const want = generatedDocs();
  for (const [path, text] of want) {
    assertEquals(Deno.readTextFileSync(`${repo}${path}`), text, `${path}: run deno task docs`);
  }
  const pages = [...Deno.readDirSync(`${repo}docs/man`)].map((e) => `docs/man/${e.name}`).sort();
  assertEquals(pages, [...want.keys()].filter((p) => p.startsWith("docs/man/")).sort());
});

Deno.test("every command has a man page naming each of its flags; completion knows them", () => {
  const completion = bashCompletion();
  for (const c of visibleCommands()) {
    const page = commandManPage(c);
    assert(page.startsWith(`.TH RUNTS-${c.name.toUpperCase()} 8`), c.name);
    const opts = /^ {4}(\S+)\)\n {6}opts="([^"]*)"/m;
    const block = completion.slice(completion.indexOf(`    ${c.name})\n`));
    const words = opts.exec(block)?.[2]?.split(" ") ?? [];
    for (const f of c.flags) {
      if (!f.hidden) assertStringIncludes(page, `\\fB\\-\\-${f.name.replace(/-/g, "\\-")}\\fR`);
      assert(words.includes(`--${f.name}`), `completion of ${c.name} lacks --${f.name}`);
      if (f.short) {
        assert(words.includes(`-${f.short}`), `completion of ${c.name} lacks -${f.short}`);
      }
    }
  }
  for (const f of GLOBAL_FLAGS) assertStringIncludes(completion, `--${f.name}`);
});

Deno.test("the completion script completes commands and flags in bash", async () => {
  const script = bashCompletion() +
    `COMP_WORDS=(runts st); COMP_CWORD=1; _runts; echo "\${COMPREPLY[*]}"
COMP_WORDS=(runts --root /x exec --cw); COMP_CWORD=4; _runts; echo "\${COMPREPLY[*]}"`;
  const out = await new Deno.Command("bash", { args: ["-c", script], stdout: "piped" }).output();
  assertEquals(new TextDecoder().decode(out.stdout), "start state\n--cwd\n");
});
