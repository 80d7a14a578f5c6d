/**
 * The RPC server of the sandbox process (the seed's urpc server): a registry of methods and a
 * loop that accepts connections on the control socket and answers their calls.
 *
 * One epoll_pwait(2) on one of Deno's FFI threads watches the listening socket and every idle
 * connection (Deno has only 32 such threads per process, shared with its async file system
 * ops, so the server never parks a thread per connection). Calls on one connection are
 * answered in order; calls on different connections run concurrently, so a long `Wait` does
 * not hold up anyone else.
 *
 * Ownership of fds:
 * - A request's fds are owned by the server. A handler that keeps one deletes its entry from
 *   the `fds` map it was given; every fd still in the map when the handler settles (returns or
 *   throws) is closed.
 * - The fds a handler returns in `fds` pass to the server, which sends and then closes them
 *   (send a `dup` of an fd the handler wants to keep).
 * @module
 */
import { sleep } from "../../ffi/timer.ts";
import { errorToJSON, SyscallError, wrapError } from "../../ffi/error.ts";
import {
  accept,
  MSG_DONTWAIT,
  MSG_NOSIGNAL,
  type PeerCred,
  peerCred,
  ReadyWaiter,
  setNonblocking,
  shutdownFd,
} from "../../ffi/socket.ts";
import { closeFd } from "../../ffi/process.ts";
import { type Envelope, MessageReader, type Reply, type Request, sendMessage } from "./protocol.ts";

export type { PeerCred } from "../../ffi/socket.ts";

/** What a handler knows about its call. */
export interface CallContext {
  /** The calling process (SO_PEERCRED at connect). */
  peer: PeerCred;
  /** The method called. */
  method: string;
}

/** What a handler returns: a JSON-able result and fds to send (they pass to the server). */
export interface HandlerResult {
  result?: unknown;
  fds?: Record<string, number>;
}

/**
 * A method. `fds` holds the request's fds by name; delete an entry to keep that fd, the rest
 * are closed when the handler settles.
 */
export type Handler = (
  arg: unknown,
  fds: Record<string, number>,
  ctx: CallContext,
) => Promise<HandlerResult> | HandlerResult;

/** Options of RpcServer. */
export interface RpcServerOptions {
  /** Whether a peer with this uid may call; refused peers are closed at once, unanswered. */
  allowUid: (uid: number) => boolean;
}

interface Conn {
  peer: PeerCred;
  /** A call is being handled; the connection is not armed meanwhile. */
  busy: boolean;
  /** Added to the waiter (armed or not). */
  watched: boolean;
}

const ACCEPT_ERROR_PAUSE_MS = 50;
/** Connections accepted per wake-up before others get their turn. */
const ACCEPT_BATCH = 16;

/**
 * Serves registered methods on a listening socket (and on connected sockets handed to it).
 *
 * @example
 * ```ts
 * const server = new RpcServer({ allowUid: (uid) => uid === 0 || uid === Deno.uid() });
 * server.register("containerManager.Start", async (arg) => ({ result: await start(arg) }));
 * await server.serve(listenUnix(sockPath, { mode: 0o600 }));
 * ```
 */
export class RpcServer {
  #handlers = new Map<string, Handler>();
  #allowUid: (uid: number) => boolean;
  #conns = new Map<number, Conn>();
  #reader = new MessageReader("request");
  #waiter: ReadyWaiter | undefined;
  #loop: Promise<void> | undefined;
  #listenFd = -1;
  #closed = false;

  constructor(opts: RpcServerOptions) {
    this.#allowUid = opts.allowUid;
  }

  /** Adds a method; a name registered twice is an error. */
  register(method: string, handler: Handler): void {
    if (method === "") throw new Error("method name must not be empty");
    if (this.#handlers.has(method)) throw new Error(`method "${method}" is already registered`);
    this.#handlers.set(method, handler);
  }

  /**
   * Accepts connections on `listenFd` (which the server now owns: it is made non-blocking and
   * closed when the server stops) and answers their calls. Resolves after close(); rejects if
   * the listening socket fails.
   */
  serve(listenFd: number): Promise<void> {
    if (this.#listenFd >= 0) throw new Error("RpcServer.serve() is already accepting");
    if (this.#closed) throw new Error("RpcServer is closed");
    setNonblocking(listenFd);
    const loop = this.#start();
    this.#waiter!.watch(listenFd);
    this.#listenFd = listenFd;
    return loop;
  }

  /**
   * Answers calls on an already connected socket (one end of a socketpair), which the server
   * now owns. Returns the same promise as serve().
   */
  serveConnection(fd: number): Promise<void> {
    if (this.#closed) throw new Error("RpcServer is closed");
    const loop = this.#start();
    this.#admit(fd);
    return loop;
  }

  /**
   * Stops: no more connections are accepted, idle connections are closed, and connections in
   * a call are shut down (the caller sees the connection closed; the handler runs to its end
   * and its reply is dropped). The promise of serve() resolves soon after.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [fd, c] of this.#conns) if (c.busy) shutdownFd(fd);
    this.#waiter?.wake();
  }

  #start(): Promise<void> {
    if (this.#loop === undefined) {
      this.#waiter = new ReadyWaiter();
      this.#loop = this.#run(this.#waiter);
    }
    return this.#loop;
  }

  async #run(waiter: ReadyWaiter): Promise<void> {
    try {
      while (!this.#closed) {
        const ready = await waiter.wait();
        if (this.#closed) break;
        let pause = false;
        for (const [fd] of ready) {
          if (fd === this.#listenFd) pause = this.#acceptSome() || pause;
          else this.#readOne(fd);
        }
        if (pause) await sleep(ACCEPT_ERROR_PAUSE_MS);
      }
    } finally {
      this.#closed = true;
      for (const [fd, c] of this.#conns) {
        if (!c.busy) this.#drop(fd); // a busy one is closed when its handler settles
      }
      if (this.#listenFd >= 0) closeFd(this.#listenFd);
      waiter.close();
    }
  }

  /** Accepts pending connections; returns true when accepting failed and should pause. */
  #acceptSome(): boolean {
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      let fd: number | null;
      try {
        fd = accept(this.#listenFd);
      } catch {
        return true; // EMFILE, ENOBUFS, ECONNABORTED...: try again a little later
      }
      if (fd === null) return false;
      this.#admit(fd);
    }
    return false;
  }

  #admit(fd: number): void {
    let peer: PeerCred;
    let ok = false;
    try {
      peer = peerCred(fd);
      ok = this.#allowUid(peer.uid);
    } catch {
      ok = false;
    }
    if (!ok) {
      closeFd(fd);
      return;
    }
    this.#conns.set(fd, { peer: peer!, busy: false, watched: false });
    // A client usually sends its request right after connecting: read it now rather than
    // after another trip through the waiter.
    this.#readOne(fd);
  }

  /** Arms an idle connection: the waiter reports it once when it is readable. */
  #arm(fd: number, c: Conn): void {
    try {
      if (c.watched) this.#waiter!.rearm(fd);
      else this.#waiter!.watch(fd, { oneshot: true });
      c.watched = true;
    } catch {
      this.#drop(fd);
    }
  }

  #drop(fd: number): void {
    const c = this.#conns.get(fd);
    this.#conns.delete(fd);
    if (c?.watched) this.#waiter?.unwatch(fd);
    closeFd(fd);
  }

  #readOne(fd: number): void {
    const c = this.#conns.get(fd);
    if (c === undefined || c.busy) return;
    let env: Envelope<Request> | null;
    try {
      env = this.#reader.read(fd, MSG_DONTWAIT);
    } catch (e) {
      if (!(e instanceof SyscallError)) {
        // The message was consumed and rejected (malformed, too large, too many fds): say so.
        c.busy = true;
        this.#reply(fd, c, { error: errorToJSON(e) }, {});
      } else if (e.code === "EAGAIN") this.#arm(fd, c);
      else this.#drop(fd);
      return;
    }
    if (env === null) return this.#drop(fd);
    c.busy = true;
    void this.#dispatch(fd, c, env);
  }

  async #dispatch(fd: number, c: Conn, env: Envelope<Request>): Promise<void> {
    const { msg, fds } = env;
    let reply: Reply;
    let out: Record<string, number> = {};
    try {
      const handler = this.#handlers.get(msg.method);
      if (handler === undefined) throw new Error(`unknown method "${msg.method}"`);
      const r = await handler(msg.arg, fds, { peer: c.peer, method: msg.method });
      reply = { result: r?.result };
      out = r?.fds ?? {};
    } catch (e) {
      reply = { error: errorToJSON(e) };
    } finally {
      for (const f of Object.values(fds)) closeFd(f);
    }
    if (msg.id !== undefined) reply.id = msg.id;
    this.#reply(fd, c, reply, out);
  }

  /** Sends a reply (closing `out` afterwards) and makes the connection idle again. */
  #reply(fd: number, c: Conn, reply: Reply, out: Record<string, number>): void {
    let alive = !this.#closed;
    try {
      if (alive) {
        try {
          sendMessage(fd, reply, out, MSG_NOSIGNAL | MSG_DONTWAIT);
        } catch (e) {
          if (e instanceof SyscallError) throw e;
          // The result could not be encoded: answer with that error instead.
          const error = errorToJSON(wrapError(e, "sending the reply"));
          sendMessage(
            fd,
            reply.id === undefined ? { error } : { id: reply.id, error },
            {},
            MSG_NOSIGNAL | MSG_DONTWAIT,
          );
        }
      }
    } catch {
      alive = false; // the caller is gone (EPIPE) or not reading (EAGAIN)
    } finally {
      for (const f of Object.values(out)) closeFd(f);
    }
    c.busy = false;
    if (!alive || this.#closed) this.#drop(fd);
    else this.#arm(fd, c);
  }
}
