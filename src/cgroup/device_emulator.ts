/**
 * The device cgroup's rule semantics, computed in TypeScript: a default (allow or deny every
 * device) plus exceptions, as the v1 devices controller keeps them. runts uses it to
 *
 * - turn `linux.resources.devices` into the set of rules the kernel ends up with (the v1
 *   controller's semantics, for v1 and for the v2 eBPF filter alike, so both enforce the same);
 * - change a v1 cgroup from the rules it has (read from `devices.list`) to new ones with the
 *   fewest writes: removed permissions are denied before new ones are allowed, and a cgroup
 *   that already has the rules gets no write at all. Only a change of the default (allow-all
 *   to deny-all or back) needs a wholesale `a` rule; the caller freezes the cgroup around it.
 *
 * Access letters other than r, w and m are ignored (`"rwa"` is `"rw"`), as runc does; an access
 * naming none of them is refused.
 * @module
 */
import type { LinuxDeviceCgroup } from "../oci/spec.ts";
import { CgroupError } from "./_common.ts";

/** Access bits (the values of the kernel's BPF_DEVCG_ACC_*). */
export const ACC_MKNOD = 1;
/** Read access. */
export const ACC_READ = 2;
/** Write access. */
export const ACC_WRITE = 4;
/** r, w and m. */
export const ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

/** A device rule with its access as bits; -1 is "any" for major and minor. */
export interface DeviceRule {
  /** `a` (every device), `b` or `c`. */
  type: "a" | "b" | "c";
  /** Major number, -1 for any. */
  major: number;
  /** Minor number, -1 for any. */
  minor: number;
  /** {@linkcode ACC_READ} | {@linkcode ACC_WRITE} | {@linkcode ACC_MKNOD}. */
  access: number;
  /** Allow (devices.allow) or deny (devices.deny). */
  allow: boolean;
}

/**
 * The access bits of an access string; letters other than r, w, m are ignored.
 *
 * @throws {CgroupError} naming `field` for an empty access or one with none of r, w, m
 */
export function accessBits(access: string, field: string): number {
  if (access === "") throw new CgroupError(field, "must not be empty (use r, w and m)");
  let bits = 0;
  for (const c of access) {
    if (c === "r") bits |= ACC_READ;
    else if (c === "w") bits |= ACC_WRITE;
    else if (c === "m") bits |= ACC_MKNOD;
  }
  if (bits === 0) {
    throw new CgroupError(field, `${JSON.stringify(access)} names none of "r", "w" and "m"`);
  }
  return bits;
}

/** `rwm` letters of access bits, in that order. */
export function accessString(bits: number): string {
  return (bits & ACC_READ ? "r" : "") + (bits & ACC_WRITE ? "w" : "") +
    (bits & ACC_MKNOD ? "m" : "");
}

const num = (n: number) => n === -1 ? "*" : String(n);

/** The `type major:minor access` line of a rule, as devices.allow/deny take it. */
export function ruleLine(r: DeviceRule): string {
  return `${r.type} ${num(r.major)}:${num(r.minor)} ${accessString(r.access)}`;
}

/** A rule of the spec in {@linkcode DeviceRule} form; `field` names it in errors. */
export function fromSpecRule(r: LinuxDeviceCgroup, field: string): DeviceRule {
  const type = r.type ?? "a";
  if (type !== "a" && type !== "b" && type !== "c") {
    throw new CgroupError(`${field}.type`, `must be "a", "b" or "c", not ${JSON.stringify(type)}`);
  }
  const dev = (n: number | undefined, f: string) => {
    if (n === undefined || n === -1) return -1;
    if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) {
      throw new CgroupError(`${field}.${f}`, `must be -1 (any) or a device number, not ${n}`);
    }
    return n;
  };
  return {
    type,
    major: dev(r.major, "major"),
    minor: dev(r.minor, "minor"),
    access: accessBits(r.access ?? "rwm", `${field}.access`),
    allow: r.allow,
  };
}

type Key = string;
const keyOf = (r: { type: string; major: number; minor: number }): Key =>
  `${r.type} ${r.major} ${r.minor}`;

/** A devices cgroup's state: its default and its exceptions. */
export class DeviceEmulator {
  /** Every device allowed except the exceptions (a "blacklist"), or the reverse. */
  defaultAllow: boolean;
  /** Exceptions to the default, by `type major minor`, with their access bits. */
  readonly #rules = new Map<Key, DeviceRule>();

  /** A state with the given default and no exceptions. */
  constructor(defaultAllow: boolean) {
    this.defaultAllow = defaultAllow;
  }

  /**
   * The state `rules` lead to from deny-all (the rules runts writes after `a` into
   * devices.deny, and the policy of the eBPF filter on v2).
   *
   * @throws {CgroupError} `linux.resources.devices[i]...` for a bad rule
   */
  static fromSpec(rules: readonly LinuxDeviceCgroup[]): DeviceEmulator {
    const e = new DeviceEmulator(false);
    rules.forEach((r, i) => {
      const field = `linux.resources.devices[${i}]`;
      e.apply(fromSpecRule(r, field), field);
    });
    return e;
  }

  /**
   * The state a v1 cgroup's `devices.list` shows. In allow-all mode the kernel lists only
   * `a *:* rwm` and hides its deny exceptions, so they are unknown here.
   */
  static fromList(text: string): DeviceEmulator {
    const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
    if (lines.some((l) => l.startsWith("a "))) return new DeviceEmulator(true);
    const e = new DeviceEmulator(false);
    for (const line of lines) {
      const m = /^([bc]) (\*|\d+):(\*|\d+) ([rwm]+)$/.exec(line);
      if (!m) throw new CgroupError("", `unexpected devices.list line ${JSON.stringify(line)}`);
      const n = (s: string) => s === "*" ? -1 : Number(s);
      e.#add({
        type: m[1] as "b" | "c",
        major: n(m[2]!),
        minor: n(m[3]!),
        access: accessBits(m[4]!, ""),
        allow: true,
      });
    }
    return e;
  }

  /** Whether every device is allowed with every access. */
  isAllowAll(): boolean {
    return this.defaultAllow && this.#rules.size === 0;
  }

  /** The exceptions, sorted by type, major and minor. */
  exceptions(): DeviceRule[] {
    return [...this.#rules.values()].sort((a, b) =>
      a.type < b.type ? -1 : a.type > b.type ? 1 : a.major - b.major || a.minor - b.minor
    );
  }

  /** The state as rules: the default for every device, then the exceptions. */
  rules(): DeviceRule[] {
    return [
      { type: "a", major: -1, minor: -1, access: ACC_ALL, allow: this.defaultAllow },
      ...this.exceptions(),
    ];
  }

  /** Whether two states are the same. */
  equals(o: DeviceEmulator): boolean {
    if (o.defaultAllow !== this.defaultAllow || o.#rules.size !== this.#rules.size) return false;
    for (const [k, r] of this.#rules) if (o.#rules.get(k)?.access !== r.access) return false;
    return true;
  }

  #add(r: DeviceRule): void {
    const k = keyOf(r);
    const access = (this.#rules.get(k)?.access ?? 0) | r.access;
    this.#rules.set(k, { ...r, access, allow: !this.defaultAllow });
  }

  /**
   * Takes permissions away from an exception. The kernel silently keeps a wildcard exception
   * that covers the device (`c 1:* rw` is not narrowed by removing `c 1:3 r`), which would leave
   * access the rules seem to remove: refused, as runc does.
   */
  #remove(r: DeviceRule, field: string): void {
    const wild: [number, number][] = [[-1, r.minor], [r.major, -1], [-1, -1]];
    for (const [major, minor] of wild) {
      if (major === r.major && minor === r.minor) continue;
      const w = this.#rules.get(keyOf({ type: r.type, major, minor }));
      if (w !== undefined && (w.access & r.access) !== 0) {
        throw new CgroupError(
          field,
          `${JSON.stringify(ruleLine({ ...r, allow: false }))} cannot take access away from ` +
            `the wider rule ${JSON.stringify(ruleLine(w))} before it (the devices cgroup ` +
            "cannot punch a hole in a wildcard rule)",
        );
      }
    }
    const k = keyOf(r);
    const cur = this.#rules.get(k);
    if (cur === undefined) return;
    const access = cur.access & ~r.access;
    if (access === 0) this.#rules.delete(k);
    else this.#rules.set(k, { ...cur, access });
  }

  /** Applies one rule, as writing it to devices.allow or devices.deny would. */
  apply(r: DeviceRule, field = ""): void {
    if (r.type === "a") {
      this.defaultAllow = r.allow;
      this.#rules.clear();
      return;
    }
    if (r.allow === this.defaultAllow) this.#remove(r, field);
    else this.#add(r);
  }

  /**
   * Whether going from this state to `target` passes through a moment in which a device the
   * target denies is allowed: the transition starts with `a` into devices.allow (which drops
   * every exception) and the target has deny exceptions to write after it. The v1 manager
   * freezes the cgroup's processes around such a transition.
   */
  opensWindowTo(target: DeviceEmulator): boolean {
    const resetsToAllow = this.defaultAllow || this.defaultAllow !== target.defaultAllow;
    return resetsToAllow && target.defaultAllow && !target.isAllowAll();
  }

  /**
   * The writes that take a cgroup in this state to `target`, fewest first-denies-then-allows:
   * a wholesale `a` rule only when the default changes or this state allows everything (its
   * hidden deny exceptions cannot be removed one by one); then the permissions to take away;
   * then those to grant. Empty when the states are the same.
   */
  transition(target: DeviceEmulator): DeviceRule[] {
    const out: DeviceRule[] = [];
    let old = this.#rules;
    if (this.defaultAllow || this.defaultAllow !== target.defaultAllow) {
      out.push({ type: "a", major: -1, minor: -1, access: ACC_ALL, allow: target.defaultAllow });
      old = new Map();
    }
    for (const r of this.exceptions()) {
      if (!old.has(keyOf(r))) continue;
      const dropped = r.access & ~(target.#rules.get(keyOf(r))?.access ?? 0);
      if (dropped !== 0) out.push({ ...r, access: dropped, allow: target.defaultAllow });
    }
    for (const r of target.exceptions()) {
      const gained = r.access & ~(old.get(keyOf(r))?.access ?? 0);
      if (gained !== 0) out.push({ ...r, access: gained, allow: !target.defaultAllow });
    }
    return out;
  }
}
