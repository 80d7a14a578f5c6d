/**
 * The control-socket message format (the seed's urpc, in JSON): one SOCK_SEQPACKET message per
 * request or reply, its fds attached with SCM_RIGHTS and named in the JSON by their index in
 * that array.
 *
 * - request: `{"id": 1, "method": "containerManager.Start", "arg": {...}, "fds": {"stdin": 0}}`
 * - reply: `{"id": 1, "result": {...}, "fds": {"tty": 0}}` or `{"id": 1, "error": {ErrorJSON}}`
 *
 * A message is at most {@linkcode MAX_MESSAGE} bytes of JSON with at most
 * {@linkcode MAX_FDS} fds. JSON longer than {@linkcode INLINE_MAX} (more than a socket buffer
 * safely holds in one datagram) travels in a memfd instead: the datagram is then a NUL byte and
 * the decimal length, and the memfd is the last attached fd (not counted in MAX_FDS).
 * @module
 */
import type { ErrorJSON } from "../../ffi/error.ts";
import {
  memfdWith,
  MSG_NOSIGNAL,
  MsgReceiver,
  preadExact,
  type Received,
  SCM_MAX_FD,
  sendMsg,
} from "../../ffi/socket.ts";
import { closeFd } from "../../ffi/process.ts";

/** Largest message, in bytes of JSON. */
export const MAX_MESSAGE = 1 << 20;
/** Most fds attached to one message. */
export const MAX_FDS = 16;
/** Largest JSON sent inline in the datagram; longer goes through a memfd. */
export const INLINE_MAX = 64 * 1024;

/** A call. `fds` names each attached fd by its index in the SCM_RIGHTS array. */
export interface Request {
  id?: number;
  method: string;
  arg: unknown;
  fds?: Record<string, number>;
}

/** The answer to a call: `result` or `error`. `fds` as in Request. */
export interface Reply {
  id?: number;
  result?: unknown;
  error?: ErrorJSON;
  fds?: Record<string, number>;
}

/** A message that breaks the protocol: malformed JSON, a missing method, too many fds. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function tooManyFds(n: number): ProtocolError {
  return new ProtocolError(`too many fds: ${n} (at most ${MAX_FDS})`);
}

/** Encodes a request or reply as JSON bytes, checking the size and the number of fds. */
export function encodeMessage(msg: Request | Reply): Uint8Array {
  const n = msg.fds === undefined ? 0 : Object.keys(msg.fds).length;
  if (n > MAX_FDS) throw tooManyFds(n);
  let json: string;
  try {
    json = JSON.stringify(msg);
  } catch (e) {
    const what = "method" in msg ? `request "${msg.method}"` : "reply";
    throw new ProtocolError(`cannot encode the ${what}: ${(e as Error).message}`);
  }
  const bytes = enc.encode(json);
  if (bytes.byteLength > MAX_MESSAGE) {
    throw new ProtocolError(
      `message of ${bytes.byteLength} bytes is larger than the limit of ${MAX_MESSAGE}`,
    );
  }
  return bytes;
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function checkFds(v: unknown, fdCount: number): Record<string, number> | undefined {
  if (fdCount > MAX_FDS) throw tooManyFds(fdCount);
  if (v === undefined) {
    if (fdCount > 0) throw new ProtocolError(`${fdCount} fds attached but none named in "fds"`);
    return undefined;
  }
  if (typeName(v) !== "object") {
    throw new ProtocolError(`malformed message: "fds" must be an object, got ${typeName(v)}`);
  }
  const seen = new Set<number>();
  for (const [name, idx] of Object.entries(v as Record<string, unknown>)) {
    if (typeof idx !== "number" || !Number.isInteger(idx) || idx < 0 || idx >= fdCount) {
      throw new ProtocolError(
        `malformed message: fd "${name}" is ${JSON.stringify(idx)}, not an index below ${fdCount}`,
      );
    }
    if (seen.has(idx)) throw new ProtocolError(`malformed message: fd ${idx} is named twice`);
    seen.add(idx);
  }
  if (seen.size !== fdCount) {
    throw new ProtocolError(`${fdCount} fds attached but ${seen.size} named in "fds"`);
  }
  return v as Record<string, number>;
}

/**
 * Parses and checks a message that came with `fdCount` fds: JSON syntax, the shape of a
 * request (a non-empty string `method`) or a reply (`error` an object with a `message`), and
 * that `fds` names every attached fd exactly once.
 */
export function decodeMessage(bytes: Uint8Array, kind: "request", fdCount: number): Request;
export function decodeMessage(bytes: Uint8Array, kind: "reply", fdCount: number): Reply;
export function decodeMessage(
  bytes: Uint8Array,
  kind: "request" | "reply",
  fdCount: number,
): Request | Reply {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new ProtocolError(
      `malformed ${kind} (${bytes.byteLength} bytes): ${(e as Error).message}`,
    );
  }
  if (typeName(v) !== "object") {
    throw new ProtocolError(`malformed ${kind}: expected a JSON object, got ${typeName(v)}`);
  }
  const o = v as Record<string, unknown>;
  if (o.id !== undefined && (typeof o.id !== "number" || !Number.isSafeInteger(o.id))) {
    throw new ProtocolError(`malformed ${kind}: "id" must be an integer, got ${typeName(o.id)}`);
  }
  checkFds(o.fds, fdCount);
  if (kind === "request") {
    if (o.method === undefined) throw new ProtocolError(`malformed request: missing "method"`);
    if (typeof o.method !== "string" || o.method === "") {
      throw new ProtocolError(
        `malformed request: "method" must be a non-empty string, got ${JSON.stringify(o.method)}`,
      );
    }
    return o as unknown as Request;
  }
  if (o.error !== undefined) {
    const e = o.error as Record<string, unknown> | null;
    if (typeName(e) !== "object" || typeof e?.message !== "string") {
      throw new ProtocolError(`malformed reply: "error" must be an object with a "message"`);
    }
    if (typeof e.name !== "string") e.name = "Error";
  }
  return o as unknown as Reply;
}

/** A received message with its fds by name (fd numbers in this process, now the owner's). */
export interface Envelope<T> {
  msg: T;
  fds: Record<string, number>;
}

const SPILL = 0;

/**
 * Sends a request or reply with `fds` (name → fd number; the caller keeps its copies) in one
 * sendmsg. `flags` as for sendMsg (default MSG_NOSIGNAL).
 */
export function sendMessage(
  sock: number,
  msg: Omit<Request, "fds"> | Omit<Reply, "fds">,
  fds: Record<string, number> = {},
  flags = MSG_NOSIGNAL,
): void {
  const names = Object.keys(fds);
  let list: number[] = [];
  let bytes: Uint8Array;
  if (names.length === 0) {
    bytes = encodeMessage(msg as Request | Reply);
  } else {
    if (names.length > MAX_FDS) throw tooManyFds(names.length);
    const wire: Record<string, number> = {};
    list = names.map((n, i) => {
      wire[n] = i;
      return fds[n]!;
    });
    bytes = encodeMessage({ ...msg, fds: wire } as Request | Reply);
  }
  if (bytes.byteLength <= INLINE_MAX) return sendMsg(sock, bytes, list, flags);
  const mfd = memfdWith(bytes, "runts-rpc");
  try {
    const head = enc.encode(`\0${bytes.byteLength}`);
    sendMsg(sock, head, [...list, mfd], flags);
  } finally {
    closeFd(mfd);
  }
}

/**
 * Reads messages of one kind from a socket with buffers allocated once. Any fd that arrived
 * with a rejected message is closed before the error is thrown. One read at a time.
 */
export class MessageReader<K extends "request" | "reply"> {
  #kind: K;
  // Room for the kernel's maximum, so that a message with too many fds is counted exactly
  // and all of them are closed.
  #rx = new MsgReceiver(INLINE_MAX, SCM_MAX_FD);

  constructor(kind: K) {
    this.#kind = kind;
  }

  /**
   * Reads one message on the calling thread; null at end of file. `flags` may add
   * MSG_DONTWAIT (then EAGAIN throws a SyscallError). Errors of the socket are SyscallErrors,
   * a rejected message is any other error (the message was consumed).
   */
  read(sock: number, flags = 0): Envelope<K extends "request" ? Request : Reply> | null {
    const r = this.#rx.recv(sock, flags);
    return r === null ? null : this.#decode(r);
  }

  /** Like read(), blocking one of Deno's FFI threads instead of the calling thread. */
  async readAsync(sock: number): Promise<Envelope<K extends "request" ? Request : Reply> | null> {
    const r = await this.#rx.recvAsync(sock);
    return r === null ? null : this.#decode(r);
  }

  #decode(r: Received): Envelope<K extends "request" ? Request : Reply> {
    const fds = r.fds;
    try {
      let bytes = r.data;
      if (bytes[0] === SPILL) {
        const len = Number(dec.decode(bytes.subarray(1)));
        const mfd = fds.pop();
        if (mfd === undefined) {
          throw new ProtocolError(`malformed ${this.#kind}: large message without its memfd`);
        }
        try {
          if (!Number.isSafeInteger(len) || len <= 0) {
            throw new ProtocolError(`malformed ${this.#kind}: bad large-message header`);
          }
          if (len > MAX_MESSAGE) {
            throw new ProtocolError(
              `message of ${len} bytes is larger than the limit of ${MAX_MESSAGE}`,
            );
          }
          bytes = preadExact(mfd, len);
        } finally {
          closeFd(mfd);
        }
      }
      const msg = decodeMessage(bytes, this.#kind as "request", fds.length);
      const named: Record<string, number> = {};
      if (msg.fds !== undefined) {
        for (const [name, idx] of Object.entries(msg.fds)) named[name] = fds[idx]!;
        delete msg.fds;
      }
      return { msg, fds: named } as Envelope<K extends "request" ? Request : Reply>;
    } catch (e) {
      for (const fd of fds) closeFd(fd);
      throw e;
    }
  }
}
