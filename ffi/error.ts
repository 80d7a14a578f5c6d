import { errnoMessage, errnoName } from "./errno.ts";

/** Serialized form of a runts error, as it crosses pipes and the control socket. */
export interface ErrorJSON {
  name: string;
  message: string;
  syscall?: string;
  errno?: number;
  context?: string[];
}

/**
 * A failed system call: the call, the errno and what it was about.
 *
 * @example
 * ```ts
 * throw new SyscallError("mount", 1, `"proc" on "/proc"`);
 * // mount "proc" on "/proc": EPERM (Operation not permitted)
 * ```
 */
export class SyscallError extends Error {
  override name = "SyscallError";
  /** The system call, e.g. "mount". */
  readonly syscall: string;
  /** The errno number. */
  readonly errno: number;
  /** The errno name, e.g. "EPERM". */
  readonly code: string;
  /** What the call was about (a path, an argument), possibly empty. */
  readonly subject: string;
  /** Outer context, outermost first: ["creating container \"x\"", ...]. */
  context: string[] = [];

  constructor(syscall: string, errno: number, subject = "") {
    super("");
    this.syscall = syscall;
    this.errno = errno;
    this.code = errnoName(errno);
    this.subject = subject;
    this.message = this.#render();
  }

  #render(): string {
    const what = this.subject === "" ? this.syscall : `${this.syscall} ${this.subject}`;
    return `${what}: ${this.code} (${errnoMessage(this.errno)})`;
  }

  /** Adds outer context; the message becomes `context: inner`. */
  wrap(context: string): this {
    this.context.unshift(context);
    this.message = [...this.context, this.#render()].join(": ");
    return this;
  }

  /** JSON for the RPC and sync pipes. */
  toJSON(): ErrorJSON {
    return {
      name: this.name,
      message: this.message,
      syscall: this.syscall,
      errno: this.errno,
      context: this.context,
    };
  }
}

/** Adds context to any error (the message becomes `context: message`) and returns it. */
export function wrapError(err: unknown, context: string): Error {
  if (err instanceof SyscallError) return err.wrap(context);
  if (err instanceof Error) {
    err.message = `${context}: ${err.message}`;
    return err;
  }
  return new Error(`${context}: ${String(err)}`);
}

/** Rebuilds an error that crossed a process boundary as JSON. */
export function errorFromJSON(json: ErrorJSON): Error {
  const e = new Error(json.message);
  e.name = json.name;
  return e;
}

/** JSON for any thrown value. */
export function errorToJSON(err: unknown): ErrorJSON {
  if (err instanceof SyscallError) return err.toJSON();
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}
