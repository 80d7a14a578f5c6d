/**
 * The error for a problem in a bundle's config.json: it names the file and the path of the
 * offending field, so the message alone tells the user what to fix.
 * @module
 */

/** The JSON form of a {@linkcode SpecError} (it crosses the sync pipe and the RPC intact). */
export interface SpecErrorJSON {
  /** Always `"SpecError"`. */
  name: "SpecError";
  /** The full message, `config.json: linux.uidMappings[0].size: must be > 0`. */
  message: string;
  /** The file the spec came from. */
  file: string;
  /** Path of the offending field (`process.args[0]`), `""` for the document as a whole. */
  field: string;
  /** What is wrong, without the file and field (`must be > 0`). */
  reason: string;
  /** 1-based line of a JSON syntax error. */
  line?: number;
  /** 1-based column of a JSON syntax error. */
  column?: number;
}

/**
 * A config.json problem. The message is `<file>: <field>: <reason>` (the field part is left out
 * for problems of the whole document, such as a JSON syntax error).
 *
 * @example
 * ```ts
 * const e = new SpecError("linux.uidMappings[0].size", "must be > 0", "/b/config.json");
 * e.message; // "/b/config.json: linux.uidMappings[0].size: must be > 0"
 * ```
 */
export class SpecError extends Error {
  /** Path of the offending field (`linux.uidMappings[0].size`), `""` for the whole document. */
  readonly field: string;
  /** The file the spec came from (`config.json` or the absolute path of the bundle's). */
  readonly file: string;
  /** What is wrong, without the file and field. */
  readonly reason: string;
  /** 1-based line of a JSON syntax error. */
  readonly line: number | undefined;
  /** 1-based column of a JSON syntax error. */
  readonly column: number | undefined;

  /** Builds the error; `at` gives the line and column of a syntax error. */
  constructor(
    field: string,
    reason: string,
    file = "config.json",
    at?: { line: number; column: number },
  ) {
    super(field === "" ? `${file}: ${reason}` : `${file}: ${field}: ${reason}`);
    this.name = "SpecError";
    this.field = field;
    this.file = file;
    this.reason = reason;
    this.line = at?.line;
    this.column = at?.column;
  }

  /** The error as plain data (used by `JSON.stringify`). */
  toJSON(): SpecErrorJSON {
    const out: SpecErrorJSON = {
      name: "SpecError",
      message: this.message,
      file: this.file,
      field: this.field,
      reason: this.reason,
    };
    if (this.line !== undefined) out.line = this.line;
    if (this.column !== undefined) out.column = this.column;
    return out;
  }

  /** Rebuilds an error from its {@linkcode SpecError.toJSON} form. */
  static fromJSON(j: SpecErrorJSON): SpecError {
    const at = j.line !== undefined && j.column !== undefined
      ? { line: j.line, column: j.column }
      : undefined;
    return new SpecError(j.field, j.reason, j.file, at);
  }
}
