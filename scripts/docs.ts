/**
 * `deno task docs`: writes the man pages (docs/man) and the bash completion
 * (docs/completion/runts.bash) from the command definitions in src/cmd/defs.ts.
 * @module
 */
import { generatedDocs } from "../src/cmd/docs.ts";

const repo = new URL("..", import.meta.url).pathname;
for (const [path, text] of generatedDocs()) {
  const full = `${repo}${path}`;
  Deno.mkdirSync(full.slice(0, full.lastIndexOf("/")), { recursive: true });
  Deno.writeTextFileSync(full, text);
  console.log(`wrote ${path}`);
}
