/**
 * The import graph of runts, read from `deno info --json main.ts`: no import circle, and no
 * arrow up the layers `ffi ← oci ← linux, cgroup, kvm ← rpc ← sandbox, boot ← container ← cmd ←
 * main.ts` (a module imports only from its own layer or the ones below).
 */
import { assertEquals } from "../assert.ts";

const REPO = new URL("../../", import.meta.url).href;

/** The layer of a module path (relative to the repository), higher imports lower. */
export function layerOf(path: string): { rank: number; group: string } {
  const rules: [RegExp, number, string][] = [
    [/^ffi\//, 0, "ffi"],
    [/^src\/oci\//, 1, "oci"],
    [/^src\/(trace|version|path|hash)\.ts$/, 1, "util"],
    [/^src\/(linux|cgroup)\//, 2, "linux/cgroup"],
    // The KVM platform (a sandbox process's VMM): beside linux and cgroup.
    [/^src\/kvm\//, 2, "kvm"],
    [/^src\/rpc\//, 3, "rpc"],
    [/^src\/sandbox\//, 4, "sandbox"],
    [/^src\/boot\//, 4, "boot"],
    [/^src\/container\//, 5, "container"],
    [/^src\/cmd\//, 6, "cmd"],
    [/^main\.ts$/, 7, "main"],
  ];
  for (const [re, rank, group] of rules) if (re.test(path)) return { rank, group };
  throw new Error(`${path}: in no layer`);
}

/**
 * Module path → the repository modules it imports: statically, or also through `import()`
 * (`dynamic`; the command table loads each command that way).
 */
async function graph(dynamic: boolean): Promise<Map<string, string[]>> {
  return (await info(dynamic)).repo;
}

/** The module graph of main.ts: repository modules, and the `node:` modules each imports. */
async function info(
  dynamic: boolean,
): Promise<
  { repo: Map<string, string[]>; node: Map<string, string[]>; code: Map<string, string[]> }
> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-config", "main.ts"],
    cwd: new URL(REPO).pathname,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assertEquals(out.code, 0, "deno info failed");
  const parsed = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: {
        code?: { specifier: string };
        type?: { specifier: string };
        isDynamic?: boolean;
      }[];
    }[];
  };
  const g = new Map<string, string[]>();
  const node = new Map<string, string[]>();
  const code = new Map<string, string[]>();
  for (const m of parsed.modules) {
    if (!m.specifier.startsWith(REPO)) continue;
    const deps = new Set<string>();
    const nodeDeps = new Set<string>();
    const codeDeps = new Set<string>();
    for (const d of m.dependencies ?? []) {
      if (d.isDynamic && !dynamic) continue;
      const c = d.code?.specifier;
      if (c?.startsWith(REPO)) codeDeps.add(c.slice(REPO.length));
      for (const s of [d.code?.specifier, d.type?.specifier]) {
        if (s?.startsWith(REPO)) deps.add(s.slice(REPO.length));
        else if (s?.startsWith("node:")) nodeDeps.add(s);
      }
    }
    const name = m.specifier.slice(REPO.length);
    g.set(name, [...deps].sort());
    if (nodeDeps.size) node.set(name, [...nodeDeps].sort());
    code.set(name, [...codeDeps].sort());
  }
  return { repo: g, node, code };
}

/** The strongly connected components with more than one module (Tarjan), i.e. the circles. */
export function circles(g: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let n = 0;
  const visit = (v: string) => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

Deno.test("circles() finds a circle and nothing else", () => {
  const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
  assertEquals(circles(g), [["a", "b", "c"]]);
  assertEquals(circles(new Map([["a", ["b"]], ["b", []]])), []);
});

const g = await graph(true);
const statics = await graph(false);

// A loop through import() (src/cmd/defs.ts's command table loads each command module, which
// imports the table's parser back) is evaluated lazily, after both modules exist: only static
// imports can form a circle that breaks module evaluation.
Deno.test("the static import graph of main.ts has no circle", () => {
  assertEquals(circles(statics), []);
});

Deno.test("no module imports from a layer above its own, nor sandbox and boot each other", () => {
  const bad: string[] = [];
  for (const [from, deps] of g) {
    const a = layerOf(from);
    for (const to of deps) {
      const b = layerOf(to);
      if (b.rank > a.rank || (b.rank === a.rank && a.rank === 4 && a.group !== b.group)) {
        bad.push(`${from} (${a.group}) -> ${to} (${b.group})`);
      }
    }
  }
  assertEquals(bad, []);
});

// The first `node:` import sets up Deno's Node compatibility layer: ~15 ms of every command and
// ~1 MiB of every sandbox process (src/path.ts).
Deno.test("no module of runts imports a node: built-in", async () => {
  assertEquals(Object.fromEntries((await info(true)).node), {});
});

Deno.test("the whole program is in the graph", () => {
  for (const m of ["src/container/container.ts", "src/sandbox/client.ts", "src/boot/serve.ts"]) {
    assertEquals(g.has(m), true, m);
  }
});

/** Static imports that are code (not `import type`): what the bundle loads. */
const runtimeStatics = (await info(false)).code;

/** The modules `from` loads before it runs: its static imports of code, followed. */
function closure(from: string): Set<string> {
  const seen = new Set<string>();
  const todo = [from];
  while (todo.length) {
    const m = todo.pop()!;
    if (seen.has(m)) continue;
    seen.add(m);
    todo.push(...(runtimeStatics.get(m) ?? []));
  }
  return seen;
}

// A command's load time grows with the code it loads (docs/benchmarks.md): what a command needs
// only sometimes (cgroup code for a paused container, hooks, --process) it imports when needed.
Deno.test("commands do not load what they do not use", () => {
  const never: Record<string, RegExp> = {
    "src/cmd/state.ts":
      /^(src\/(cgroup|kvm|rpc|boot)\/|src\/linux\/(init|hooks|seccomp)|ffi\/(socket|clone|program)\.ts|src\/oci\/config\.ts)/,
    "src/cmd/start.ts":
      /^(src\/(cgroup|kvm|boot)\/|src\/linux\/(init|hooks|seccomp)|ffi\/clone\.ts)/,
    "src/cmd/delete.ts":
      /^(src\/(cgroup|kvm|boot)\/|src\/linux\/(init|hooks|seccomp)|ffi\/(clone|program)\.ts)/,
    "src/cmd/kill.ts":
      /^(src\/(cgroup|kvm|boot)\/|src\/linux\/(init|hooks|seccomp)|ffi\/clone\.ts)/,
    "src/cmd/exec.ts":
      /^(src\/cgroup\/(?!warm\.ts)|src\/(kvm|boot)\/|src\/sandbox\/(sandbox|spare)\.ts|src\/oci\/config\.ts)/,
  };
  const bad: string[] = [];
  for (const [cmd, re] of Object.entries(never)) {
    for (const m of closure(cmd)) if (re.test(m)) bad.push(`${cmd} loads ${m}`);
  }
  assertEquals(bad, []);
});
