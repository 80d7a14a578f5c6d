/**
 * Makes V8 compile the bundle's top-level functions when it compiles each file, so that their
 * bytecode is in Deno's code cache (scripts/bundle.sh runs this on build/runts/*.js).
 *
 * V8 compiles a function lazily, at its first call, unless it is wrapped in parentheses (it then
 * expects it to be called at once). Deno writes a module's code cache right after compiling the
 * module, so a lazily compiled function is compiled again by every process that calls it: for
 * `runts run`, ~15 ms of its ~60. Each top-level `function NAME(…) {…}` of a file becomes
 * `var NAME = (function (…) {…});`, moved to the top of the file: there, every one is
 * assigned before any other statement of the file runs, as a declaration is (hoisting). That is
 * the same only while no file imports, directly or not, a file that imports it: a file evaluated
 * inside such a circle could call a function of a file whose top has not run yet. The files are
 * checked for that (deno bundle makes no circles; a change there fails here, not at run time).
 * @module
 */

/** A top-level function declaration: its text is `src.slice(start, end)`. */
export interface FunctionDecl {
  name: string;
  start: number;
  end: number;
}

/** What a module file is made of, as far as this transformation needs. */
export interface ModuleOutline {
  functions: FunctionDecl[];
  /** The relative specifiers of its static imports and re-exports (`from "./x.js"`). */
  imports: string[];
}

/** Keywords after which a `/` starts a regular expression, not a division. */
const BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

const isIdent = (c: string): boolean => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);

/**
 * Scans an ES module's text (an unminified bundle: top-level statements start at a line's
 * start) for its top-level function declarations and static imports. Strings, template literals,
 * comments and regular expressions are skipped; an unbalanced bracket or an unterminated literal
 * throws (the text is then not what this understands, and nothing must be changed).
 */
export function outline(src: string): ModuleOutline {
  const functions: FunctionDecl[] = [];
  const imports: string[] = [];
  // Open brackets: "(", "[", "{", or "${" (an expression inside a template literal).
  const stack: string[] = [];
  // The last token: "ident:NAME", "value" (literal, ")" or "]"), or a punctuator.
  let last = "";
  let pending: { name: string; start: number; bodyOpen: boolean } | undefined;
  let i = 0;
  const n = src.length;
  const fail = (why: string): never => {
    const line = src.slice(0, i).split("\n").length;
    throw new Error(`line ${line}: ${why}`);
  };
  const skipString = (q: string) => {
    for (i++; i < n; i++) {
      const c = src[i];
      if (c === "\\") i++;
      else if (c === q) return void i++;
      else if (c === "\n") fail("newline in a string literal");
    }
    fail("unterminated string literal");
  };
  // From inside a template literal: to its end (true) or to the start of an expression (false).
  const skipTemplate = (): boolean => {
    for (; i < n; i++) {
      const c = src[i];
      if (c === "\\") i++;
      else if (c === "`") {
        i++;
        return true;
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        return false;
      }
    }
    return fail("unterminated template literal");
  };
  const skipRegex = () => {
    let inClass = false;
    for (i++; i < n; i++) {
      const c = src[i];
      if (c === "\\") i++;
      else if (c === "[") inClass = true;
      else if (c === "]") inClass = false;
      else if (c === "/" && !inClass) {
        i++;
        while (i < n && isIdent(src[i]!)) i++;
        return;
      } else if (c === "\n") fail("newline in a regular expression");
    }
    fail("unterminated regular expression");
  };
  const atLineStart = (at: number) => at === 0 || src[at - 1] === "\n";
  const word = (at: number): string => {
    let e = at;
    while (e < n && isIdent(src[e]!)) e++;
    return src.slice(at, e);
  };
  const spaceAt = (at: number): number => {
    while (at < n && (src[at] === " " || src[at] === "\t")) at++;
    return at;
  };

  while (i < n) {
    const c = src[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (c === "/" && src[i + 1] === "/") {
      const e = src.indexOf("\n", i);
      i = e < 0 ? n : e;
    } else if (c === "/" && src[i + 1] === "*") {
      const e = src.indexOf("*/", i + 2);
      if (e < 0) fail("unterminated comment");
      i = e + 2;
    } else if (c === "'" || c === '"') {
      const from = i;
      skipString(c);
      if (stack.length === 0 && (last === "ident:from" || last === "ident:import")) {
        imports.push(src.slice(from + 1, i - 1));
      }
      last = "value";
    } else if (c === "`") {
      i++;
      if (skipTemplate()) last = "value";
      else {
        stack.push("${");
        last = "${";
      }
    } else if (c === "/") {
      const regex = last === "" ||
        (last.startsWith("ident:") ? BEFORE_REGEX.has(last.slice(6)) : last !== "value");
      if (regex) {
        skipRegex();
        last = "value";
      } else {
        i++;
        last = "/";
      }
    } else if (isIdent(c)) {
      const w = word(i);
      if (stack.length === 0 && pending === undefined && atLineStart(i)) {
        // `function NAME(`, `function* NAME(`, `async function NAME(` at a line's start
        let at = i;
        if (w === "async") at = spaceAt(at + w.length);
        if (word(at) === "function") {
          at = spaceAt(at + "function".length);
          if (src[at] === "*") at = spaceAt(at + 1);
          const name = word(at);
          if (name !== "" && src[spaceAt(at + name.length)] === "(") {
            pending = { name, start: i, bodyOpen: false };
          }
        }
      }
      i += w.length;
      // (a name after "." is a property: `x.in / 2` divides)
      last = /^[0-9]/.test(w) || last === "." ? "value" : `ident:${w}`;
    } else if (c === "(" || c === "[" || c === "{") {
      if (c === "{" && stack.length === 0 && pending !== undefined) pending.bodyOpen = true;
      // "(c": a condition (`if (x) /re/.test(s)`: a statement, not a division, follows it)
      stack.push(c === "(" && /^ident:(if|while|for|with)$/.test(last) ? "(c" : c);
      i++;
      last = c;
    } else if (c === ")" || c === "]" || c === "}") {
      let open = stack.pop();
      const condition = open === "(c";
      if (condition) open = "(";
      const want = c === ")" ? "(" : c === "]" ? "[" : "{";
      if (c === "}" && open === "${") {
        if (skipTemplate()) last = "value";
        else {
          stack.push("${");
          last = "${";
        }
        continue;
      }
      if (open !== want) fail(`"${c}" closes "${open ?? "nothing"}"`);
      i++;
      last = c === "}" || condition ? c : "value";
      if (c === "}" && stack.length === 0 && pending?.bodyOpen) {
        functions.push({ name: pending.name, start: pending.start, end: i });
        pending = undefined;
      }
    } else if ((c === "+" || c === "-") && src[i + 1] === c) {
      // postfix (`i++ / 2`) after a value, prefix otherwise
      i += 2;
      if (last !== "value") last = c + c;
    } else {
      i++;
      last = c;
    }
  }
  if (stack.length > 0) fail(`"${stack.at(-1)}" not closed at the end`);
  if (pending !== undefined) fail(`function ${pending.name} has no body`);
  return { functions, imports };
}

/**
 * The text with every top-level function declaration turned into a parenthesised function
 * expression assigned to a `var` of its name, all of them moved to the top (after a `#!` line).
 * The expression has no name of its own: inside it, as inside the declaration, the name is the
 * module's binding (a named expression would bind a read-only name of its own); `.name` is still
 * NAME (an anonymous function assigned to a binding takes its name).
 */
export function eagerText(src: string, functions: FunctionDecl[]): string {
  if (functions.length === 0) return src;
  const top: string[] = [
    "// Top-level functions, parenthesised so that V8 compiles them with the file (scripts/eager.ts).",
  ];
  let rest = "";
  let from = 0;
  for (const f of functions) {
    const text = src.slice(f.start, f.end);
    const head = /^(async\s+)?function(\s*\*)?\s*([A-Za-z_$][\w$]*)\s*\(/.exec(text);
    if (head?.[3] !== f.name) throw new Error(`function ${f.name}: its head not understood`);
    const anonymous = `${head[1] ?? ""}function${head[2] ?? ""}(${text.slice(head[0].length)}`;
    top.push(`var ${f.name} = (${anonymous});`);
    rest += src.slice(from, f.start);
    from = f.end;
  }
  rest += src.slice(from);
  const bang = rest.startsWith("#!") ? rest.indexOf("\n") + 1 : 0;
  return `${rest.slice(0, bang)}${top.join("\n")}\n${rest.slice(bang)}`;
}

/** A circle of static imports among the files (names as imported: "./x.js"), if there is one. */
export function importCircle(imports: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (f: string): string[] | undefined => {
    if (state.get(f) === "done") return undefined;
    if (state.get(f) === "open") return [...path.slice(path.indexOf(f)), f];
    state.set(f, "open");
    path.push(f);
    for (const g of imports.get(f) ?? []) {
      const circle = visit(g);
      if (circle) return circle;
    }
    path.pop();
    state.set(f, "done");
    return undefined;
  };
  for (const f of imports.keys()) {
    const circle = visit(f);
    if (circle) return circle;
  }
  return undefined;
}

/** Transforms the files in place; throws, changing nothing, when one is not understood. */
export function eagerFiles(paths: string[]): number {
  const texts = new Map<string, string>();
  const outlines = new Map<string, ModuleOutline>();
  const imports = new Map<string, string[]>();
  for (const p of paths) {
    const text = Deno.readTextFileSync(p);
    let o: ModuleOutline;
    try {
      o = outline(text);
    } catch (e) {
      throw new Error(`${p}: ${(e as Error).message}`);
    }
    texts.set(p, text);
    outlines.set(p, o);
    const name = `./${p.slice(p.lastIndexOf("/") + 1)}`;
    imports.set(name, o.imports.filter((s) => s.startsWith("./")));
  }
  const circle = importCircle(imports);
  if (circle) throw new Error(`the files import each other: ${circle.join(" → ")}`);
  let count = 0;
  const out = new Map<string, string>();
  for (const [p, o] of outlines) {
    const text = eagerText(texts.get(p)!, o.functions);
    // The result must scan as well, with no declaration left.
    if (outline(text).functions.length !== 0) throw new Error(`${p}: a declaration is left`);
    out.set(p, text);
    count += o.functions.length;
  }
  for (const [p, text] of out) Deno.writeTextFileSync(p, text);
  return count;
}

if (import.meta.main) {
  try {
    eagerFiles(Deno.args);
  } catch (e) {
    console.error(`eager: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
