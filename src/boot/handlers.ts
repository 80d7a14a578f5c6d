/**
 * The control-socket methods of a sandbox process, bound to its container manager.
 * @module
 */
import { closeFd, prctl } from "../../ffi/process.ts";
import { PR } from "../linux/consts.ts";
import { mark } from "../trace.ts";
import type { RpcServer } from "../rpc/server.ts";
import * as M from "../rpc/methods.ts";
import type { ContainerManager } from "./containers.ts";
import type { GuestName } from "../kvm/guests.ts";

function need(fds: Record<string, number>, name: string): number {
  const fd = fds[name];
  if (fd === undefined) throw new Error(`missing fd "${name}"`);
  return fd;
}

/** A handler typed by the method's entry in {@linkcode M.Methods}. */
type TypedHandler<K extends M.Method> = (
  arg: M.Methods[K]["args"],
  fds: Record<string, number>,
) => Promise<{ result: M.Methods[K]["result"] }> | { result: M.Methods[K]["result"] };

/** Registers one method with its typed handler. */
function on<K extends M.Method>(server: RpcServer, method: K, fn: TypedHandler<K>): void {
  server.register(method, (arg, fds) => fn(arg as M.Methods[K]["args"], fds));
}

/** Registers every method on the server. */
export function registerHandlers(server: RpcServer, mgr: ContainerManager): void {
  on(server, M.CREATE, async (a, fds) => {
    mark("boot: create request");
    // The creator has recorded this process: it no longer dies with it.
    prctl(PR.SET_PDEATHSIG, 0);
    const preserve = Array.from({ length: a.preserveFds }, (_, i) => need(fds, `p${i}`));
    try {
      // Platform kvm: the caller opened and checked /dev/kvm; check what arrived (issue 17).
      // The KVM code is loaded only then: every sandbox process start would pay for it.
      if (fds.kvm !== undefined) {
        const [{ checkKvmFd }, { kvmWorkloadRefusal }] = await Promise.all([
          import("../kvm/device.ts"),
          import("../kvm/platform.ts"),
        ]);
        throw kvmWorkloadRefusal(checkKvmFd(fds.kvm, "the received fd"));
      }
      const warnings: string[] = [];
      const init = await mgr.create({
        warn: (w) => warnings.push(w),
        id: a.id,
        spec: a.spec,
        bundle: a.bundle,
        rootfs: a.rootfs,
        stdio: [need(fds, "stdin"), need(fds, "stdout"), need(fds, "stderr")],
        preserveFds: preserve,
        cloneParent: a.cloneParent,
        noPivot: a.noPivot,
        ...(fds.console !== undefined ? { consoleFd: fds.console } : {}),
      });
      return { result: { pid: init.pid, ...(warnings.length ? { warnings } : {}) } };
    } finally {
      // The init has its own copies; ours must not keep the caller's pipes open.
      for (const fd of Object.values(fds)) closeFd(fd);
      for (const k of Object.keys(fds)) delete fds[k];
    }
  });
  on(server, M.START, async (a) => {
    const warnings = await mgr.start(a.id);
    return { result: { warnings } };
  });
  on(server, M.WAIT, async (a) => {
    const s = await mgr.wait(a.id);
    const r: M.WaitResult = s === undefined ? { code: null } : { code: s.code };
    if (s?.signal !== undefined) r.signal = s.signal;
    return { result: r };
  });
  on(server, M.EXECUTE_ASYNC, async (a, fds) => {
    const preserve = Array.from({ length: a.preserveFds }, (_, i) => need(fds, `p${i}`));
    const pid = await mgr.exec(a.id, {
      spec: a.spec,
      stdio: [need(fds, "stdin"), need(fds, "stdout"), need(fds, "stderr")],
      preserveFds: preserve,
      ...(fds.console !== undefined ? { consoleFd: fds.console } : {}),
      ...(a.cgroupProcs !== undefined ? { cgroupProcs: a.cgroupProcs } : {}),
    });
    return { result: { pid } };
  });
  on(server, M.DEBUG_STACKS, () => {
    const fds: string[] = [];
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      try {
        fds.push(`${e.name} -> ${Deno.readLinkSync(`/proc/self/fd/${e.name}`)}`);
      } catch {
        // the directory's own fd, closed meanwhile
      }
    }
    fds.sort((a, b) => parseInt(a) - parseInt(b));
    const r: M.StacksResult = {
      pid: Deno.pid,
      stack: new Error("stack of the sandbox process").stack ?? "",
      fds,
      containers: mgr.describe(),
    };
    return { result: r };
  });
  on(server, M.DESTROY, async (a) => {
    const clean = await mgr.destroy(a.id);
    return { result: { clean } };
  });
  on(server, M.KVM_RUN_GUEST, async (a, fds) => {
    const kvm = need(fds, "kvm");
    delete fds.kvm;
    try {
      const [{ checkKvmFd }, { GUEST_NAMES }, { runGuest }] = await Promise.all([
        import("../kvm/device.ts"),
        import("../kvm/guests.ts"),
        import("../kvm/machine.ts"),
      ]);
      if (!(GUEST_NAMES as readonly string[]).includes(a.guest)) {
        throw new Error(`kvm: no built-in guest ${JSON.stringify(a.guest)}`);
      }
      checkKvmFd(kvm, "the received fd");
      return { result: await runGuest(kvm, a.guest as GuestName, a) };
    } finally {
      closeFd(kvm);
    }
  });
}
