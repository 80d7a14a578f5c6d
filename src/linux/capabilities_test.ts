import { assertEquals, assertThrows } from "../../tests/assert.ts";
import type { Spec } from "../oci/spec.ts";
import { checkCapabilities } from "./capabilities.ts";

const spec = (bounding: string[], ambient: string[] = []): Spec =>
  ({ ociVersion: "1.2.0", process: { cwd: "/", capabilities: { bounding, ambient } } }) as Spec;

Deno.test("checkCapabilities() refuses unknown names, naming each once", () => {
  assertThrows(
    () => checkCapabilities(spec(["CAP_KILL", "CAP_TEST"], ["CAP_TEST", "CAP_X"]), 40),
    Error,
    'process.capabilities: unknown capabilities "CAP_TEST", "CAP_X"',
  );
});

Deno.test("checkCapabilities() warns about capabilities above the kernel's last", () => {
  assertEquals(checkCapabilities(spec(["CAP_KILL", "CAP_BPF", "CAP_PERFMON"]), 37), [
    "ignoring capabilities this kernel does not have: CAP_BPF, CAP_PERFMON",
  ]);
  assertEquals(checkCapabilities(spec(["CAP_KILL", "CAP_BPF"]), 40), []);
});
