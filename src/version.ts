/**
 * What `runts --version` reports: runts' version, the commit it was built from, the
 * runtime-spec version it implements. `deno task dist` stamps the commit into the bundle; from
 * a checkout it is read from the repository's `.git`.
 * @module
 */

/** runts' version (the first line of `runts --version`, the dist file name). */
export const VERSION = "0.1.0";

/** The runtime-spec version runts writes and implements. */
export const SPEC_VERSION = "1.2.0";

/** Replaced by scripts/dist.ts in the bundled file; left as is in the sources. */
const STAMP = "@RUNTS_COMMIT@";

/** The commit runts was built from ("unknown" outside a checkout without a stamp). */
export function commit(): string {
  if (!STAMP.startsWith("@")) return STAMP;
  try {
    if (!import.meta.url.startsWith("file:")) return "unknown";
    // src/version.ts, or a chunk of the bundle in build/runts/: the checkout is above it.
    const git0 = ["..", "../..", "../../.."].map((up) =>
      `${new URL(up, import.meta.url).pathname}.git`
    )
      .find((p) => {
        try {
          Deno.statSync(p);
          return true;
        } catch {
          return false;
        }
      });
    if (git0 === undefined) return "unknown";
    let git = git0;
    if (Deno.statSync(git).isFile) {
      git = Deno.readTextFileSync(git).replace(/^gitdir:\s*/, "").trim();
    }
    const head = Deno.readTextFileSync(`${git}/HEAD`).trim();
    if (!head.startsWith("ref: ")) return head;
    const ref = head.slice(5);
    let common = git;
    try {
      const c = Deno.readTextFileSync(`${git}/commondir`).trim();
      common = c.startsWith("/") ? c : `${git}/${c}`;
    } catch {
      // a plain repository
    }
    for (const dir of [git, common]) {
      try {
        return Deno.readTextFileSync(`${dir}/${ref}`).trim();
      } catch {
        // packed or in the common dir
      }
      try {
        const packed = Deno.readTextFileSync(`${dir}/packed-refs`);
        const m = packed.split("\n").find((l) => l.endsWith(` ${ref}`));
        if (m) return m.split(" ")[0]!;
      } catch {
        // next
      }
    }
  } catch {
    // not a checkout
  }
  return "unknown";
}
