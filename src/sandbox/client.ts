/**
 * The typed client of a sandbox process's control socket (runsc's `sandbox.Sandbox` methods):
 * one method per RPC, arguments and results typed by the {@linkcode M.Methods} map the server
 * shares. Every command that talks to a running sandbox goes through it.
 * @module
 */
import { type CallResult, RpcClient } from "../rpc/client.ts";
import * as M from "../rpc/methods.ts";

/** Host fds handed to a new process: stdio, then the preserved ones, then the console. */
export interface ProcessFds {
  stdio: [number, number, number];
  /** Preserved fds, sent as p0, p1, ... */
  preserve: number[];
  /** The pty's end that goes to the console socket, when there is one. */
  console?: number;
  /** The checked /dev/kvm fd (platform kvm). */
  kvm?: number;
}

/** The fds of a process as the server names them. */
function namedFds(f: ProcessFds): Record<string, number> {
  const fds: Record<string, number> = { stdin: f.stdio[0], stdout: f.stdio[1], stderr: f.stdio[2] };
  f.preserve.forEach((fd, i) => (fds[`p${i}`] = fd));
  if (f.console !== undefined) fds.console = f.console;
  if (f.kvm !== undefined) fds.kvm = f.kvm;
  return fds;
}

/**
 * A connection to one sandbox process (connected once, closed with {@linkcode close}).
 *
 * @example
 * ```ts
 * const sb = SandboxClient.connect(rec.socketPath);
 * try {
 *   await sb.start(rec.id);
 * } finally {
 *   sb.close();
 * }
 * ```
 */
export class SandboxClient {
  readonly #rpc: RpcClient;

  private constructor(rpc: RpcClient) {
    this.#rpc = rpc;
  }

  /** Connects to the control socket at `path`. */
  static connect(path: string): SandboxClient {
    return new SandboxClient(RpcClient.connect(path));
  }

  /** Runs `fn` with a client connected to `path`, closing it afterwards. */
  static async with<T>(path: string, fn: (c: SandboxClient) => Promise<T>): Promise<T> {
    const c = SandboxClient.connect(path);
    try {
      return await fn(c);
    } finally {
      c.close();
    }
  }

  async #call<K extends M.Method>(
    method: K,
    arg: M.Methods[K]["args"],
    fds?: Record<string, number>,
  ): Promise<M.Methods[K]["result"]> {
    const r: CallResult = await this.#rpc.call(method, arg, fds);
    return r.result as M.Methods[K]["result"];
  }

  /** Creates a container; its init waits for {@linkcode start}. Blocks in one round trip. */
  create(arg: M.CreateArgs, fds: ProcessFds): M.CreateResult {
    return this.#rpc.callSync(M.CREATE, arg, namedFds(fds)).result as M.CreateResult;
  }

  /**
   * Releases a created container's init into execve (startContainer/poststart hooks around);
   * returns the warnings of failed poststart hooks.
   */
  async start(id: string): Promise<string[]> {
    return (await this.#call(M.START, { id }))?.warnings ?? [];
  }

  /** Waits for a container's init to exit. */
  wait(id: string): Promise<M.WaitResult> {
    return this.#call(M.WAIT, { id });
  }

  /** Starts a process in a container; the sandbox process is its parent. */
  executeAsync(arg: M.ExecuteAsyncArgs, fds: ProcessFds): M.CreateResult {
    return this.#rpc.callSync(M.EXECUTE_ASYNC, arg, namedFds(fds)).result as M.CreateResult;
  }

  /** The sandbox process's stack, fds and containers. */
  stacks(): Promise<M.StacksResult> {
    return this.#call(M.DEBUG_STACKS, {});
  }

  /** Runs a built-in KVM guest on the checked /dev/kvm fd `kvm` (`runts debug kvm`). */
  runGuest(arg: M.KvmRunGuestArgs, kvm: number): Promise<M.KvmRunGuestResult> {
    return this.#call(M.KVM_RUN_GUEST, arg, { kvm });
  }

  /**
   * Kills a container and forgets it (the sandbox exits when none is left), waiting at most
   * `timeoutMs` for the answer (then it throws). Blocks in one round trip.
   */
  destroy(id: string, timeoutMs: number): M.DestroyResult {
    return this.#rpc.callSync(M.DESTROY, { id }, {}, { timeoutMs }).result as M.DestroyResult;
  }

  /** Closes the connection. */
  close(): void {
    this.#rpc.close();
  }
}
