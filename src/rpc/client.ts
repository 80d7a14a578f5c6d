/**
 * The RPC client of the control socket (the seed's urpc client), used by the short-lived CLI.
 * @module
 */
import { errorFromJSON, SyscallError, wrapError } from "../../ffi/error.ts";
import { closeFd } from "../../ffi/process.ts";
import { connectUnix, setRecvTimeout, shutdownFd } from "../../ffi/socket.ts";
import {
  type Envelope,
  MessageReader,
  ProtocolError,
  type Reply,
  sendMessage,
} from "./protocol.ts";

/** The answer to a call; the received fds are the caller's to close. */
export interface CallResult {
  result: unknown;
  fds: Record<string, number>;
}

/**
 * A connection to an RpcServer. Calls on one client are answered in order: async calls are
 * queued; callSync() must not overlap an async call.
 *
 * @example
 * ```ts
 * const client = RpcClient.connect(rec.socketPath);
 * try {
 *   const { result } = client.callSync("containerManager.Create", args, { stdin: 0 });
 * } finally {
 *   client.close();
 * }
 * ```
 */
export class RpcClient {
  #fd: number;
  #label: string;
  #reader = new MessageReader("reply");
  #nextId = 1;
  #queue: Promise<unknown> = Promise.resolve();
  #inflight = 0;
  #receiving = false;
  #closed = false;

  private constructor(fd: number, label: string) {
    this.#fd = fd;
    this.#label = label;
  }

  /**
   * Connects to the control socket at `path`. Throws a SyscallError
   * `connecting to sandbox "<path>": ENOENT (No such file or directory)`.
   */
  static connect(path: string): RpcClient {
    let fd: number;
    try {
      fd = connectUnix(path);
    } catch (e) {
      if (e instanceof SyscallError && e.syscall === "connect") {
        throw new SyscallError("connecting to sandbox", e.errno, JSON.stringify(path));
      }
      throw wrapError(e, `connecting to sandbox ${JSON.stringify(path)}`);
    }
    return new RpcClient(fd, `sandbox ${JSON.stringify(path)}`);
  }

  /** A client over an already connected socket (a socketpair end), which it now owns. */
  static fromFd(fd: number, label = `fd ${fd}`): RpcClient {
    return new RpcClient(fd, label);
  }

  /**
   * Calls `method`; `fds` (name → fd) are sent along and stay the caller's. The reply is
   * awaited on one of Deno's FFI threads. A remote error is thrown as an Error with the
   * remote message (and name).
   */
  call(method: string, arg: unknown, fds: Record<string, number> = {}): Promise<CallResult> {
    this.#inflight++;
    const run = () => this.#callAsync(method, arg, fds);
    const p = this.#queue.then(run, run).finally(() => this.#inflight--);
    this.#queue = p.catch(() => {});
    return p;
  }

  /**
   * Like call(), blocking the calling thread in recvmsg: one sendmsg and one recvmsg, for
   * short CLI commands where nothing else runs.
   */
  callSync(
    method: string,
    arg: unknown,
    fds: Record<string, number> = {},
    opts: { timeoutMs?: number } = {},
  ): CallResult {
    if (this.#inflight > 0) throw new Error("RpcClient.callSync() during an async call");
    // (a receive timeout on the socket: no timer, see setRecvTimeout)
    if (opts.timeoutMs !== undefined) setRecvTimeout(this.#fd, opts.timeoutMs);
    const id = this.#send(method, arg, fds);
    let env: Envelope<Reply> | null;
    try {
      env = this.#reader.read(this.#fd);
    } catch (e) {
      throw this.#readError(e, method);
    }
    return this.#answer(env, id, method);
  }

  /**
   * Closes the connection. A pending async call fails with "closed" (its recvmsg is woken by
   * shutdown, and the fd is closed once it has returned).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#receiving) shutdownFd(this.#fd);
    else closeFd(this.#fd);
  }

  async #callAsync(method: string, arg: unknown, fds: Record<string, number>): Promise<CallResult> {
    const id = this.#send(method, arg, fds);
    let env: Envelope<Reply> | null;
    this.#receiving = true;
    try {
      env = await this.#reader.readAsync(this.#fd);
    } catch (e) {
      throw this.#readError(e, method);
    } finally {
      this.#receiving = false;
      if (this.#closed) closeFd(this.#fd);
    }
    return this.#answer(env, id, method);
  }

  #send(method: string, arg: unknown, fds: Record<string, number>): number {
    if (this.#closed) throw new Error(`calling "${method}" on a closed connection`);
    const id = this.#nextId++;
    try {
      sendMessage(this.#fd, { id, method, arg }, fds);
    } catch (e) {
      if (e instanceof SyscallError && (e.code === "EPIPE" || e.code === "ECONNRESET")) {
        throw this.#closedError(method);
      }
      throw wrapError(e, `calling "${method}"`);
    }
    return id;
  }

  #closedError(method: string): Error {
    return new Error(`${this.#label} closed the connection before replying to "${method}"`);
  }

  #readError(e: unknown, method: string): Error {
    if (e instanceof SyscallError && e.code === "ECONNRESET") return this.#closedError(method);
    return wrapError(e, `reply to "${method}"`);
  }

  #answer(env: Envelope<Reply> | null, id: number, method: string): CallResult {
    if (env === null) throw this.#closedError(method);
    const { msg, fds } = env;
    if ((msg.id !== undefined && msg.id !== id) || msg.error !== undefined) {
      for (const fd of Object.values(fds)) closeFd(fd);
      if (msg.error !== undefined) throw errorFromJSON(msg.error);
      throw new ProtocolError(`reply ${msg.id} to "${method}" answers another call (${id})`);
    }
    return { result: msg.result, fds };
  }
}
