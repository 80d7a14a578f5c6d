/**
 * `deno task dist [--out DIR]`: dist/runts-VERSION-linux-x86_64.tar.gz, runts for a host
 * without the repository: the pinned Deno binary, runts bundled into one file (the commit
 * stamped in), a launcher that works without PATH, the man pages, the bash completion, and
 * install.sh (`--prefix`, default /usr/local; `--uninstall`). Needs no download: where
 * `deno compile` works, `deno task build` makes the one-file form instead.
 * @module
 */
import { fileURLToPath } from "node:url";
import { generatedDocs } from "../src/cmd/docs.ts";
import { VERSION } from "../src/version.ts";

const repo = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const outArg = Deno.args.indexOf("--out");
const out = outArg >= 0 ? Deno.args[outArg + 1]! : `${repo}/dist`;
const name = `runts-${VERSION}-linux-x86_64`;

async function run(cmd: string, args: string[], cwd = repo): Promise<string> {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
  return new TextDecoder().decode(r.stdout).trim();
}

const stage = await Deno.makeTempDir({ prefix: "runts-dist-" });
try {
  const top = `${stage}/${name}`;
  for (const d of ["bin", "lib/runts", "share/man/man8", "share/bash-completion/completions"]) {
    await Deno.mkdir(`${top}/${d}`, { recursive: true });
  }
  // The bundled runts, with the commit stamped in.
  await run(Deno.execPath(), ["bundle", "--quiet", "-o", `${top}/lib/runts/runts.js`, "main.ts"]);
  let commit = "unknown";
  try {
    commit = await run("git", ["rev-parse", "HEAD"]);
    if (await run("git", ["status", "--porcelain", "--untracked-files=no"]) !== "") {
      commit += "-dirty";
    }
  } catch {
    // not a git checkout
  }
  const js = await Deno.readTextFile(`${top}/lib/runts/runts.js`);
  if (!js.includes("@RUNTS_COMMIT@")) {
    throw new Error("dist: the commit stamp is not in the bundle");
  }
  await Deno.writeTextFile(`${top}/lib/runts/runts.js`, js.replaceAll("@RUNTS_COMMIT@", commit));
  await Deno.copyFile(Deno.realPathSync(Deno.execPath()), `${top}/lib/runts/deno`);
  await Deno.copyFile(`${repo}/scripts/dist/runts.sh`, `${top}/bin/runts`);
  await Deno.copyFile(`${repo}/scripts/dist/install.sh`, `${top}/install.sh`);
  for (const f of ["bin/runts", "install.sh", "lib/runts/deno"]) {
    await Deno.chmod(`${top}/${f}`, 0o755);
  }
  for (const [path, text] of generatedDocs()) {
    const dest = path.startsWith("docs/man/")
      ? `share/man/man8/${path.slice("docs/man/".length)}`
      : "share/bash-completion/completions/runts";
    await Deno.writeTextFile(`${top}/${dest}`, text);
  }
  await Deno.mkdir(out, { recursive: true });
  const tarball = `${out}/${name}.tar.gz`;
  await run("tar", ["-czf", tarball, "--owner=0", "--group=0", "-C", stage, name]);
  console.log(tarball);
} finally {
  await Deno.remove(stage, { recursive: true });
}
