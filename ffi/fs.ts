/**
 * Reading files of a container's rootfs from the host without following its symlinks out of
 * it: openat2 with RESOLVE_IN_ROOT, as if the rootfs were `/`.
 * @module
 */
import { closeFd } from "./process.ts";
import { OPEN_HOW_SIZE, openHow } from "./structs/kernel.ts";
import { SYS } from "./sysno_x86_64.ts";
import { cstr, rawSyscall } from "./syscall.ts";

const O_RDONLY = 0;
const O_PATH = 0o10000000;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const RESOLVE_IN_ROOT = 0x10;
const RESOLVE_NO_MAGICLINKS = 0x02;

/** Reads `path` as seen with `root` as `/` (up to `limit` bytes); undefined if it cannot. */
export function readFileInRoot(root: string, path: string, limit = 1 << 20): string | undefined {
  const rootFd = rawSyscall(SYS.openat, -100, cstr(root), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  if (rootFd < 0) return undefined;
  try {
    const how = openHow(O_RDONLY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    const fd = rawSyscall(SYS.openat2, rootFd, cstr(path), how, OPEN_HOW_SIZE);
    if (fd < 0) return undefined;
    try {
      const chunks: Uint8Array[] = [];
      let total = 0;
      const buf = new Uint8Array(65536);
      while (total < limit) {
        const n = rawSyscall(SYS.read, fd, buf, buf.byteLength);
        if (n === -4) continue;
        if (n <= 0) break;
        chunks.push(buf.slice(0, n));
        total += n;
      }
      const out = new Uint8Array(total);
      let off = 0;
      for (const c of chunks) {
        out.set(c, off);
        off += c.byteLength;
      }
      return new TextDecoder().decode(out);
    } finally {
      closeFd(fd);
    }
  } finally {
    closeFd(rootFd);
  }
}

/**
 * Resolves `path` inside `root` the way the kernel would with `root` as `/` (symlinks followed,
 * absolute ones relative to root, `..` clamped at root), returning the in-root path. Missing
 * components are kept as they are. Reads links only; nothing outside root is looked at.
 */
export function resolveInRoot(root: string, path: string, maxLinks = 40): string {
  const todo = path.split("/").filter((c) => c !== "" && c !== ".");
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === "..") {
      done.pop();
      continue;
    }
    const here = `${root}/${[...done, c].join("/")}`;
    let target: string | undefined;
    try {
      if (Deno.lstatSync(here).isSymlink) target = Deno.readLinkSync(here);
    } catch {
      // missing: kept as it is
    }
    if (target === undefined) {
      done.push(c);
      continue;
    }
    if (++links > maxLinks) throw new Error(`${JSON.stringify(path)}: too many symlinks`);
    if (target.startsWith("/")) done.length = 0;
    todo.unshift(...target.split("/").filter((x) => x !== "" && x !== "."));
  }
  return "/" + done.join("/");
}
