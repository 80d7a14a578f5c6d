import { assert, assertEquals } from "../../tests/assert.ts";
import { MARK } from "./channel.ts";
import type { Spec } from "../oci/spec.ts";
import { NS_FLAG } from "./consts.ts";
import { buildInitProgram } from "./init_program.ts";

const SPEC = {
  ociVersion: "1.2.0",
  root: { path: "rootfs" },
  process: { args: ["/bin/true"], cwd: "/", env: ["PATH=/bin"], user: { uid: 0, gid: 0 } },
  linux: { namespaces: [{ type: "pid" }, { type: "mount" }, { type: "user" }] },
} as Spec;

function execPlan(extra = {}) {
  return buildInitProgram({
    spec: SPEC,
    rootfs: "",
    stdio: [0, 1, 2],
    ctlFd: 70,
    exec: { pidfd: 71, nsFlags: NS_FLAG.user | NS_FLAG.mount, forkIntoPidNs: true },
    ...extra,
  });
}

Deno.test("buildInitProgram() rootless exec joins every namespace, forks into the pid namespace, reports the pid", () => {
  const steps = execPlan().program.steps;
  const at = (name: string) => steps.findIndex((s) => s.name === name);
  const setns = steps[at("setns")]!;
  assertEquals(setns.args[1], { imm: BigInt(NS_FLAG.user | NS_FLAG.mount | NS_FLAG.pid) });
  const fork = at("clone");
  assert(fork > at("setns"), "forks after joining");
  assertEquals(steps[fork]!.args[0], { imm: 0x8000n | 17n }); // CLONE_PARENT | SIGCHLD
  // pidfd_open of the fork's result: the intermediate (a pid) jumps to its tail, the forked
  // process (0: EINVAL) goes on and waits for the parent's byte before anything else.
  const tell = steps[fork + 1]!;
  assertEquals(tell.name, "pidfd_open");
  assertEquals(tell.args[0], { ref: fork });
  assertEquals([tell.opts.ok, tell.opts.onOkGoto], [[22], "exec-intermediate"]);
  assertEquals(steps[fork + 2]!.name, "read");
  assertEquals(steps[fork + 2]!.args[0], { imm: 70n });
  // The tail: PID_INDEX, then the fork's result slot, then exit 0; the execve comes before it.
  const tail = steps.findIndex((s) => s.labels.includes("exec-intermediate"));
  assert(
    steps.slice(fork, tail).some((s) => s.name.startsWith("execve")),
    "execve before the tail",
  );
  assertEquals(steps.slice(tail).map((s) => s.name), ["write", "write", "exit_group"]);
  const marker = steps[tail]!.args[1] as { bytes: Uint8Array };
  assertEquals(
    new DataView(marker.bytes.buffer, marker.bytes.byteOffset).getBigUint64(0, true),
    MARK.pid,
  );
  assertEquals(steps[tail + 1]!.args[1], { resultAddr: fork });
  assertEquals(steps[tail + 2]!.args[0], { imm: 0n });
});

Deno.test("buildInitProgram() tolerates EPERM from setgroups only when it may be denied and there are no groups", async (t) => {
  const setgroups = (extra: object, gids?: number[]) =>
    buildInitProgram({
      spec: {
        ...SPEC,
        process: { ...SPEC.process!, user: { uid: 0, gid: 0, additionalGids: gids } },
      } as Spec,
      rootfs: "/b/rootfs",
      stdio: [10, 11, 12],
      ctlFd: 20,
      ...extra,
    }).program.steps.find((s) => s.name === "setgroups")!;
  await t.step(
    "denied, no groups",
    () => assertEquals(setgroups({ setgroupsDenied: true }).opts.ok, [1]),
  );
  await t.step(
    "denied, groups asked for",
    () => assertEquals(setgroups({ setgroupsDenied: true }, [5]).opts.ok, undefined),
  );
  await t.step("root", () => assertEquals(setgroups({}).opts.ok, undefined));
});

Deno.test("buildInitProgram() binds the host's devices when the runtime runs in a user namespace", () => {
  const spec = { ...SPEC, linux: { namespaces: [{ type: "mount" }] } } as Spec;
  const binds = (bindDevices: boolean) =>
    buildInitProgram({ spec, rootfs: "/b/rootfs", stdio: [10, 11, 12], ctlFd: 20, bindDevices })
      .program.steps.filter((s) =>
        s.name === "open_tree" && /^host device /.test(s.opts.subject ?? "")
      )
      .map((s) => s.opts.subject);
  assertEquals(binds(false), []);
  assertEquals(binds(true).length, 6); // null, zero, full, random, urandom, tty
});
