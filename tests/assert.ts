/**
 * The few assertions the tests use, on top of node:assert (JSR's @std/assert cannot be
 * installed here).
 * @module
 */
import { deepStrictEqual, ok } from "node:assert/strict";

/** Deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  deepStrictEqual(actual, expected, msg);
}

/** Truthiness. */
export function assert(cond: unknown, msg?: string): asserts cond {
  ok(cond, msg);
}

/** The string contains the part. */
export function assertStringIncludes(actual: string, part: string, msg?: string): void {
  if (!actual.includes(part)) {
    throw new Error(msg ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(part)}`);
  }
}

/** The string matches the pattern. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (!re.test(actual)) throw new Error(msg ?? `expected ${JSON.stringify(actual)} to match ${re}`);
}

/** fn throws an instance of cls whose message includes msgPart; returns the error. */
export function assertThrows(
  fn: () => unknown,
  cls: new (...a: never[]) => Error = Error,
  msgPart = "",
): Error {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${String(e)}`);
    assertStringIncludes(e.message, msgPart);
    return e;
  }
  throw new Error(`expected the function to throw ${cls.name}`);
}

/** The promise rejects with an instance of cls whose message includes msgPart. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls: new (...a: never[]) => Error = Error,
  msgPart = "",
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${String(e)}`);
    assertStringIncludes(e.message, msgPart);
    return e;
  }
  throw new Error(`expected the promise to reject with ${cls.name}`);
}
