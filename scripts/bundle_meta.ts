/**
 * scripts/bundle.sh's last checks on a bundle made in DIR, before it replaces build/runts/:
 *
 * - every file of it parses (`deno info` of a module that imports them all: bundle.sh rewrote
 *   their import() calls with sed);
 * - DIR/sources.sh: the files the bundle was made from (main.ts's module graph, dynamic imports
 *   included, and the scripts that make it), for bin/runts, which runs the bundle only while none
 *   of them is newer. A file added to the graph changes the file that imports it.
 *
 * Usage: deno run -A scripts/bundle_meta.ts DIR REPO
 * @module
 */

interface Info {
  modules: { specifier: string; error?: string }[];
}

async function info(root: string): Promise<Info> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--quiet", "--json", "--no-config", root],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) throw new Error(`deno info ${root}: ${dec.decode(out.stderr).trim()}`);
  return JSON.parse(dec.decode(out.stdout)) as Info;
}

/** The files of `dir` that do not parse, with why. */
export async function unparsed(dir: string, files: string[]): Promise<string[]> {
  const all = `${dir}/.parse-check.js`;
  Deno.writeTextFileSync(all, files.map((f) => `import "./${f}";\n`).join(""));
  try {
    return (await info(all)).modules.filter((m) => m.error !== undefined)
      .map((m) => `${m.specifier}: ${m.error}`);
  } finally {
    Deno.removeSync(all);
  }
}

/** The text of sources.sh: one call of bin/runts' `fresh` with the repository-relative paths. */
export function sourcesText(repo: string, modules: string[]): string {
  const prefix = `${repo.replace(/\/$/, "")}/`;
  const files = [
    ...modules.map((m) => decodeURIComponent(new URL(m).pathname))
      .filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length)),
    "scripts/bundle.sh",
    "scripts/bundle_meta.ts",
  ].sort();
  if (!files.includes("main.ts")) throw new Error("main.ts is not in its own module graph");
  const odd = files.find((f) => /[^A-Za-z0-9_./-]/.test(f));
  if (odd !== undefined) throw new Error(`a source path the shell would split: ${odd}`);
  return "# written by scripts/bundle.sh: the sources of this bundle, for bin/runts\n" +
    `fresh ${files.join(" ")}\n`;
}

if (import.meta.main) {
  const [dir, repo] = Deno.args;
  try {
    if (dir === undefined || repo === undefined) throw new Error("usage: bundle_meta.ts DIR REPO");
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".js"));
    const bad = await unparsed(dir, files);
    if (bad.length > 0) throw new Error(`files that do not parse:\n${bad.join("\n")}`);
    const graph = await info(`${repo}/main.ts`);
    Deno.writeTextFileSync(
      `${dir}/sources.sh`,
      sourcesText(repo, graph.modules.map((m) => m.specifier)),
    );
  } catch (e) {
    console.error(`bundle: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
