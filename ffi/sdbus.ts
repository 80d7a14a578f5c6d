/**
 * D-Bus method calls through libsystemd's sd-bus (`libsystemd.so.0`, opened lazily with
 * Deno.dlopen). The systemd cgroup driver talks to systemd with it: a real D-Bus library does
 * the authentication, marshalling and reply matching, and libsystemd0 is installed on every host
 * where systemd runs (crun uses the same library for the same job).
 *
 * Only non-variadic entry points are used (`sd_bus_message_append_basic`,
 * `sd_bus_message_open_container`, ...): Deno's FFI has no varargs. Values are described by
 * their D-Bus signature; {@linkcode DbusValue} says which JS value goes with which type.
 * sd-bus functions return `-errno`, so no thread-local errno is read.
 * @module
 */
import { errnoMessage, errnoName } from "./errno.ts";

const SYMBOLS = {
  // int sd_bus_new(sd_bus **ret);
  sd_bus_new: { parameters: ["buffer"], result: "i32" },
  // int sd_bus_set_address(sd_bus *bus, const char *address);
  sd_bus_set_address: { parameters: ["pointer", "buffer"], result: "i32" },
  // int sd_bus_set_bus_client(sd_bus *bus, int b);
  sd_bus_set_bus_client: { parameters: ["pointer", "i32"], result: "i32" },
  // int sd_bus_start(sd_bus *bus);
  sd_bus_start: { parameters: ["pointer"], result: "i32" },
  // sd_bus *sd_bus_flush_close_unref(sd_bus *bus);
  sd_bus_flush_close_unref: { parameters: ["pointer"], result: "pointer" },
  // int sd_bus_message_new_method_call(sd_bus *bus, sd_bus_message **m, const char *destination,
  //                                    const char *path, const char *interface,
  //                                    const char *member);
  sd_bus_message_new_method_call: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // int sd_bus_message_append_basic(sd_bus_message *m, char type, const void *p);
  //   (for s, o, g: p is the string itself)
  sd_bus_message_append_basic: { parameters: ["pointer", "u8", "buffer"], result: "i32" },
  // int sd_bus_message_append_array(sd_bus_message *m, char type, const void *ptr, size_t size);
  sd_bus_message_append_array: {
    parameters: ["pointer", "u8", "buffer", "usize"],
    result: "i32",
  },
  // int sd_bus_message_open_container(sd_bus_message *m, char type, const char *contents);
  sd_bus_message_open_container: { parameters: ["pointer", "u8", "buffer"], result: "i32" },
  // int sd_bus_message_close_container(sd_bus_message *m);
  sd_bus_message_close_container: { parameters: ["pointer"], result: "i32" },
  // int sd_bus_call(sd_bus *bus, sd_bus_message *m, uint64_t usec, sd_bus_error *ret_error,
  //                 sd_bus_message **reply);
  sd_bus_call: {
    parameters: ["pointer", "pointer", "u64", "buffer", "buffer"],
    result: "i32",
  },
  // int sd_bus_message_read_basic(sd_bus_message *m, char type, void *p);
  sd_bus_message_read_basic: { parameters: ["pointer", "u8", "buffer"], result: "i32" },
  // sd_bus_message *sd_bus_message_unref(sd_bus_message *m);
  sd_bus_message_unref: { parameters: ["pointer"], result: "pointer" },
  // void sd_bus_error_free(sd_bus_error *e);
  sd_bus_error_free: { parameters: ["buffer"], result: "void" },
  // int sd_bus_get_property_string(sd_bus *bus, const char *destination, const char *path,
  //                                const char *interface, const char *member,
  //                                sd_bus_error *ret_error, char **ret);
  sd_bus_get_property_string: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // void free(void *p);   (libc, found through libsystemd's dependencies)
  free: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The library file sd-bus comes from. */
export const LIBSYSTEMD = "libsystemd.so.0";

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function sd(): Symbols {
  if (lib === undefined) {
    try {
      lib = Deno.dlopen(LIBSYSTEMD, SYMBOLS);
    } catch (e) {
      throw new Error(`sd-bus: ${LIBSYSTEMD} not found (install libsystemd0)`, { cause: e });
    }
  }
  return lib.symbols;
}

/** Whether libsystemd can be opened. */
export function libsystemdAvailable(): boolean {
  try {
    sd();
    return true;
  } catch {
    return false;
  }
}

/**
 * A value for one D-Bus complete type: `s o g` string, `b` boolean, `y n q i u` number,
 * `x t` bigint or number, `ay` a Uint8Array (or number[]), `a<T>` an array, `(..)` an array of
 * the members, `v` a {@linkcode Variant}.
 */
export type DbusValue = string | number | bigint | boolean | Uint8Array | Variant | DbusValue[];

/** A variant: its signature and its value. */
export interface Variant {
  /** One complete type (`t`, `a(ss)`). */
  sig: string;
  /** The value. */
  value: DbusValue;
}

/** Builds a variant. */
export function variant(sig: string, value: DbusValue): Variant {
  return { sig, value };
}

/**
 * Splits a signature into its complete types: `"sa(sv)b"` → `["s", "a(sv)", "b"]`.
 *
 * @throws {Error} for an unbalanced or unknown signature.
 */
export function splitSignature(sig: string): string[] {
  const out: string[] = [];
  let i = 0;
  const one = (): void => {
    const c = sig[i];
    if (c === undefined) throw new Error(`D-Bus signature ${JSON.stringify(sig)} is incomplete`);
    i++;
    if ("ybnqiuxtdsogvh".includes(c)) return;
    if (c === "a") return one();
    if (c === "(" || c === "{") {
      const close = c === "(" ? ")" : "}";
      while (sig[i] !== close) {
        if (i >= sig.length) {
          throw new Error(`D-Bus signature ${JSON.stringify(sig)} is unbalanced`);
        }
        one();
      }
      i++;
      return;
    }
    throw new Error(`D-Bus signature ${JSON.stringify(sig)}: unknown type ${JSON.stringify(c)}`);
  };
  while (i < sig.length) {
    const start = i;
    one();
    out.push(sig.slice(start, i));
  }
  return out;
}

/** A D-Bus error reply (`org.freedesktop.systemd1.NoSuchUnit: Unit x.scope not loaded.`). */
export class DbusError extends Error {
  /** The D-Bus error name, "" for a local failure. */
  readonly dbusName: string;
  /** The errno name of a local failure (`ENOENT`), or sd-bus's mapping of the error. */
  readonly code: string;

  /** Builds the error. */
  constructor(message: string, dbusName: string, code: string) {
    super(message);
    this.name = "DbusError";
    this.dbusName = dbusName;
    this.code = code;
  }
}

const enc = new TextEncoder();
const cs = (s: string): Uint8Array<ArrayBuffer> => enc.encode(s + "\0");
const ch = (s: string): number => s.charCodeAt(0);

function errnoText(r: number): string {
  return `${errnoName(-r)} (${errnoMessage(-r)})`;
}

function ptr(v: bigint): Deno.PointerValue {
  return Deno.UnsafePointer.create(v);
}

function cString(addr: bigint): string {
  const p = ptr(addr);
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/** One method call. */
export interface MethodCall {
  /** Bus name (`org.freedesktop.systemd1`). */
  destination: string;
  /** Object path. */
  path: string;
  /** Interface. */
  iface: string;
  /** Method name. */
  member: string;
  /** Signature of the arguments (`ssa(sv)a(sa(sv))`), "" for none. */
  signature?: string;
  /** The arguments, one per complete type of the signature. */
  args?: DbusValue[];
  /** Reply timeout in microseconds (default 25 s, sd-bus's). */
  timeoutUs?: number;
}

/** A connection to a bus. Not shared between threads; close() it. */
export class SdBus {
  #bus: Deno.PointerValue;
  /** The address it is connected to. */
  readonly address: string;

  private constructor(bus: Deno.PointerValue, address: string) {
    this.#bus = bus;
    this.address = address;
  }

  /**
   * Connects to a bus as a client (`unix:path=/run/dbus/system_bus_socket`).
   *
   * @throws {DbusError} naming the address and the errno when it cannot connect.
   */
  static open(address: string): SdBus {
    const s = sd();
    const out = new BigUint64Array(1);
    let r = s.sd_bus_new(out);
    if (r < 0) throw new DbusError(`sd_bus_new: ${errnoText(r)}`, "", errnoName(-r));
    const bus = ptr(out[0]!);
    const fail = (what: string, r: number): never => {
      s.sd_bus_flush_close_unref(bus);
      throw new DbusError(
        `${what} D-Bus at ${JSON.stringify(address)}: ${errnoText(r)}`,
        "",
        errnoName(-r),
      );
    };
    r = s.sd_bus_set_address(bus, cs(address));
    if (r < 0) fail("bad address for", r);
    r = s.sd_bus_set_bus_client(bus, 1);
    if (r < 0) fail("setting up", r);
    r = s.sd_bus_start(bus);
    if (r < 0) fail("cannot connect to", r);
    return new SdBus(bus, address);
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (this.#bus !== null) sd().sd_bus_flush_close_unref(this.#bus);
    this.#bus = null;
  }

  #live(): Deno.PointerValue {
    if (this.#bus === null) throw new Error("sd-bus: connection is closed");
    return this.#bus;
  }

  /**
   * Calls a method and returns the reply's leading string-like values (`s`, `o`, `g`) as
   * listed in `reply` (`"o"` for a job path).
   *
   * @throws {DbusError} with the D-Bus error name for an error reply.
   */
  call(m: MethodCall, reply = ""): string[] {
    const s = sd();
    const bus = this.#live();
    const out = new BigUint64Array(1);
    let r = s.sd_bus_message_new_method_call(
      bus,
      out,
      cs(m.destination),
      cs(m.path),
      cs(m.iface),
      cs(m.member),
    );
    if (r < 0) throw new DbusError(`building ${m.member}: ${errnoText(r)}`, "", errnoName(-r));
    const msg = ptr(out[0]!);
    let replyMsg: Deno.PointerValue = null;
    const err = new BigUint64Array(3); // sd_bus_error { name, message, _need_free }
    try {
      const types = splitSignature(m.signature ?? "");
      const args = m.args ?? [];
      if (types.length !== args.length) {
        throw new Error(
          `${m.member}: signature ${JSON.stringify(m.signature)} has ${types.length} types, ` +
            `${args.length} arguments given`,
        );
      }
      types.forEach((t, i) => appendValue(s, msg, t, args[i]!));
      const rep = new BigUint64Array(1);
      r = s.sd_bus_call(bus, msg, BigInt(m.timeoutUs ?? 0), err, rep);
      if (r < 0) {
        const name = cString(err[0]!);
        const text = cString(err[1]!);
        throw new DbusError(
          name === "" ? `${m.member}: ${errnoText(r)}` : `${m.member}: ${name}: ${text}`,
          name,
          errnoName(-r),
        );
      }
      replyMsg = ptr(rep[0]!);
      const values: string[] = [];
      for (const t of reply) {
        const p = new BigUint64Array(1);
        r = s.sd_bus_message_read_basic(replyMsg, ch(t), p);
        if (r <= 0) {
          throw new DbusError(`${m.member}: reading reply: ${errnoText(r || -5)}`, "", "EIO");
        }
        values.push(cString(p[0]!));
      }
      return values;
    } finally {
      s.sd_bus_error_free(err);
      if (replyMsg !== null) s.sd_bus_message_unref(replyMsg);
      s.sd_bus_message_unref(msg);
    }
  }

  /**
   * Reads a string property (`ActiveState` of a unit).
   *
   * @throws {DbusError} for an error reply.
   */
  getString(o: { destination: string; path: string; iface: string; member: string }): string {
    const s = sd();
    const err = new BigUint64Array(3);
    const out = new BigUint64Array(1);
    try {
      const r = s.sd_bus_get_property_string(
        this.#live(),
        cs(o.destination),
        cs(o.path),
        cs(o.iface),
        cs(o.member),
        err,
        out,
      );
      if (r < 0) {
        const name = cString(err[0]!);
        throw new DbusError(
          name === ""
            ? `reading ${o.member}: ${errnoText(r)}`
            : `reading ${o.member}: ${name}: ${cString(err[1]!)}`,
          name,
          errnoName(-r),
        );
      }
      const v = cString(out[0]!);
      s.free(ptr(out[0]!));
      return v;
    } finally {
      s.sd_bus_error_free(err);
    }
  }
}

function check(r: number, what: string): void {
  if (r < 0) throw new DbusError(`appending ${what}: ${errnoText(r)}`, "", errnoName(-r));
}

function appendValue(s: Symbols, msg: Deno.PointerValue, t: string, v: DbusValue): void {
  const c = t[0]!;
  switch (c) {
    case "s":
    case "o":
    case "g":
      return check(s.sd_bus_message_append_basic(msg, ch(c), cs(String(v))), t);
    case "b":
      return check(s.sd_bus_message_append_basic(msg, ch(c), new Int32Array([v ? 1 : 0])), t);
    case "y":
      return check(s.sd_bus_message_append_basic(msg, ch(c), new Uint8Array([Number(v)])), t);
    case "n":
      return check(s.sd_bus_message_append_basic(msg, ch(c), new Int16Array([Number(v)])), t);
    case "q":
      return check(s.sd_bus_message_append_basic(msg, ch(c), new Uint16Array([Number(v)])), t);
    case "i":
      return check(s.sd_bus_message_append_basic(msg, ch(c), new Int32Array([Number(v)])), t);
    case "u":
      return check(s.sd_bus_message_append_basic(msg, ch(c), new Uint32Array([Number(v)])), t);
    case "x":
      return check(
        s.sd_bus_message_append_basic(msg, ch(c), new BigInt64Array([BigInt(v as number)])),
        t,
      );
    case "t":
      return check(
        s.sd_bus_message_append_basic(msg, ch(c), new BigUint64Array([BigInt(v as number)])),
        t,
      );
    case "v": {
      const va = v as Variant;
      check(s.sd_bus_message_open_container(msg, ch("v"), cs(va.sig)), t);
      appendValue(s, msg, va.sig, va.value);
      return check(s.sd_bus_message_close_container(msg), t);
    }
    case "a": {
      const elem = t.slice(1);
      if (elem === "y") {
        const bytes = v instanceof Uint8Array ? v : new Uint8Array(v as number[]);
        return check(
          s.sd_bus_message_append_array(msg, ch("y"), new Uint8Array(bytes), BigInt(bytes.length)),
          t,
        );
      }
      check(s.sd_bus_message_open_container(msg, ch("a"), cs(elem)), t);
      for (const e of v as DbusValue[]) appendValue(s, msg, elem, e);
      return check(s.sd_bus_message_close_container(msg), t);
    }
    case "(": {
      const inner = t.slice(1, -1);
      const members = splitSignature(inner);
      const vals = v as DbusValue[];
      if (vals.length !== members.length) {
        throw new Error(`D-Bus struct ${t}: ${vals.length} values for ${members.length} members`);
      }
      check(s.sd_bus_message_open_container(msg, ch("r"), cs(inner)), t);
      members.forEach((mt, i) => appendValue(s, msg, mt, vals[i]!));
      return check(s.sd_bus_message_close_container(msg), t);
    }
    default:
      throw new Error(`D-Bus type ${JSON.stringify(t)} is not supported here`);
  }
}
