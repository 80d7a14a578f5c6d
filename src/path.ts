/**
 * POSIX path operations with `node:path`'s results (its tests pin them: src/path_test.ts).
 *
 * runts code imports these instead of `node:path`: the first `node:` import of a Deno process
 * sets up Deno's Node compatibility layer, which cost every runts command ~15 ms and the
 * sandbox process ~1 MiB of memory (docs/benchmarks.md). tests/unit/imports_test.ts keeps
 * `node:` out of the runtime's modules.
 * @module
 */

/** True when `p` starts at the root. */
export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

/** Collapses `.`, `..` and repeated slashes; keeps a trailing slash; "" is ".". */
export function normalize(p: string): string {
  if (p === "") return ".";
  const abs = p.startsWith("/");
  const trailing = p.endsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
      continue;
    }
    out.push(part);
  }
  let s = out.join("/");
  if (abs) s = "/" + s;
  else if (s === "") s = ".";
  if (trailing && s !== "/") s += "/";
  return s;
}

/** Joins the non-empty parts with "/" and normalizes ("." when nothing is left). */
export function join(...parts: string[]): string {
  const kept = parts.filter((p) => p !== "");
  return kept.length === 0 ? "." : normalize(kept.join("/"));
}

/** The absolute path of the parts, read right to left from the current directory. */
export function resolve(...parts: string[]): string {
  let s = "";
  for (let i = parts.length - 1; i >= -1 && !s.startsWith("/"); i--) {
    const p = i >= 0 ? parts[i]! : Deno.cwd();
    if (p === "") continue;
    s = s === "" ? p : `${p}/${s}`;
  }
  const n = normalize(s);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/**
 * The path without its last component: "." when there is none, "/" at the root. Only the slash
 * before the last component goes ("///a//b/" gives "///a/", "//a" gives "//"), as in node:path.
 */
export function dirname(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  let seenName = false;
  let cut = -1;
  for (let i = p.length - 1; i >= 1; i--) {
    if (p[i] !== "/") seenName = true;
    else if (seenName) {
      cut = i;
      break;
    }
  }
  if (cut === -1) return rooted ? "/" : ".";
  if (rooted && cut === 1) return "//";
  return p.slice(0, cut);
}

/** The last component, trailing slashes ignored. */
export function basename(p: string): string {
  let end = p.length;
  while (end > 0 && p[end - 1] === "/") end--;
  if (end === 0) return "";
  return p.slice(p.lastIndexOf("/", end - 1) + 1, end);
}
