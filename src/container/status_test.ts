import { assertEquals } from "../../tests/assert.ts";
import { CONTAINER_STATUSES, type ContainerStatus } from "../oci/state.ts";
import {
  canDelete,
  canExec,
  canKill,
  canPause,
  canResume,
  canStart,
  deleteKills,
  refusal,
} from "./status.ts";

/** The statuses for which pred holds, in lifecycle order. */
function where(pred: (s: ContainerStatus) => boolean): ContainerStatus[] {
  return CONTAINER_STATUSES.filter(pred);
}

Deno.test("canStart() allows only a created container", () => {
  assertEquals(where(canStart), ["created"]);
});

Deno.test("canKill() allows created, running and paused containers", () => {
  assertEquals(where(canKill), ["created", "running", "paused"]);
});

Deno.test("canDelete() without force allows stopped and created containers, as runc", () => {
  assertEquals(where((s) => canDelete(s)), ["created", "stopped"]);
  assertEquals(where((s) => canDelete(s, false)), ["created", "stopped"]);
});

Deno.test("canDelete() with force allows every status", () => {
  assertEquals(where((s) => canDelete(s, true)), [...CONTAINER_STATUSES]);
});

Deno.test("deleteKills() is true where an init may still live", () => {
  assertEquals(where(deleteKills), ["created", "running", "paused"]);
});

Deno.test("canPause() allows running and created containers, as runc", () => {
  assertEquals(where(canPause), ["created", "running"]);
});

Deno.test("canResume() allows only a paused container", () => {
  assertEquals(where(canResume), ["paused"]);
});

Deno.test("canExec() allows created and running, paused only with ignorePaused", () => {
  assertEquals(where((s) => canExec(s)), ["created", "running"]);
  assertEquals(where((s) => canExec(s, true)), ["created", "running", "paused"]);
});

Deno.test("refusal() names the operation, the container and its status", () => {
  assertEquals(refusal("start", "web", "stopped"), 'cannot start container "web": it is stopped');
  assertEquals(
    refusal("delete", "web", "running"),
    'cannot delete container "web": it is running (use --force)',
  );
  // runc's words for exec and kill, which containerd's shims and tests parse.
  assertEquals(
    refusal("exec", "web", "paused"),
    "cannot exec in a paused container (use --ignore-paused to override)",
  );
  assertEquals(refusal("exec", "web", "stopped"), "cannot exec in a stopped container");
  assertEquals(refusal("kill", "web", "stopped"), "container not running");
  assertEquals(refusal("resume", "web", "running"), 'cannot resume container "web": it is running');
});
