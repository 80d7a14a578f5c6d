/**
 * The state every phase writes to: the program, the options, the current phase name.
 * @module
 */
import { Program, type Ref } from "../../../ffi/program.ts";
import type { Spec } from "../../oci/spec.ts";
import type { InitOptions } from "./options.ts";

/** The program being built, with what it is built from. */
export class Builder {
  /** The steps so far. */
  readonly p: Program = new Program();
  /** The options. */
  readonly o: InitOptions;
  /** The spec (o.spec). */
  readonly spec: Spec;
  /** The phase the next steps belong to (for error messages). */
  phase = "";
  /** Read-only mounts with mounts or devices to come beneath them, made read-only last. */
  readonlyLater: string[] = [];

  constructor(o: InitOptions) {
    this.o = o;
    this.spec = o.spec;
  }

  /** Appends a step of the current phase. */
  call(name: string, nr: number, args: Parameters<Program["call"]>[2], opts = {}): Ref {
    return this.p.call(name, nr, args, { phase: this.phase, ...opts });
  }
}
