/**
 * The control-socket methods of a sandbox process, bound to its container manager.
 * @module
 */
import { closeFd } from "../../ffi/process.ts";
import { mark } from "../trace.ts";
import type { RpcServer } from "../rpc/server.ts";
import * as M from "../rpc/methods.ts";
import type { ContainerManager } from "./containers.ts";
import { checkKvmFd } from "../kvm/device.ts";
import { GUEST_NAMES, type GuestName } from "../kvm/guests.ts";
import { runGuest } from "../kvm/machine.ts";
import { kvmWorkloadRefusal } from "../kvm/platform.ts";

function need(fds: Record<string, number>, name: string): number {
  const fd = fds[name];
  if (fd === undefined) throw new Error(`missing fd "${name}"`);
  return fd;
}

/** Registers every method on the server. */
export function registerHandlers(server: RpcServer, mgr: ContainerManager): void {
  server.register(M.CREATE, async (arg, fds) => {
    mark("boot: create request");
    const a = arg as M.CreateArgs;
    const preserve = Array.from({ length: a.preserveFds }, (_, i) => need(fds, `p${i}`));
    try {
      // Platform kvm: the caller opened and checked /dev/kvm; check what arrived (issue 17).
      if (fds.kvm !== undefined) throw kvmWorkloadRefusal(checkKvmFd(fds.kvm, "the received fd"));
      const init = await mgr.create({
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
      return { result: { pid: init.pid } satisfies M.CreateResult };
    } finally {
      // The init has its own copies; ours must not keep the caller's pipes open.
      for (const fd of Object.values(fds)) closeFd(fd);
      for (const k of Object.keys(fds)) delete fds[k];
    }
  });
  server.register(M.START, async (arg) => {
    const warnings = await mgr.start((arg as M.IdArgs).id);
    return { result: { warnings } satisfies M.StartResult };
  });
  server.register(M.WAIT, async (arg) => {
    const s = await mgr.wait((arg as M.IdArgs).id);
    const r: M.WaitResult = s === undefined ? { code: null } : { code: s.code };
    if (s?.signal !== undefined) r.signal = s.signal;
    return { result: r };
  });
  server.register(M.SIGNAL, (arg) => {
    const a = arg as M.SignalArgs;
    mgr.signal(a.id, a.signal, a.mode === "all");
    return Promise.resolve({ result: {} });
  });
  server.register(M.PROCESSES, (arg) => {
    const r: M.ProcessesResult = { pids: mgr.processes((arg as M.IdArgs).id) };
    return Promise.resolve({ result: r });
  });
  server.register(M.EXECUTE_ASYNC, async (arg, fds) => {
    const a = arg as M.ExecuteAsyncArgs;
    const preserve = Array.from({ length: a.preserveFds }, (_, i) => need(fds, `p${i}`));
    const pid = await mgr.exec(a.id, {
      spec: a.spec,
      stdio: [need(fds, "stdin"), need(fds, "stdout"), need(fds, "stderr")],
      preserveFds: preserve,
      ...(fds.console !== undefined ? { consoleFd: fds.console } : {}),
      ...(a.cgroupProcs !== undefined ? { cgroupProcs: a.cgroupProcs } : {}),
    });
    return { result: { pid } satisfies M.CreateResult };
  });
  server.register(M.WAIT_PID, async (arg) => {
    const a = arg as M.WaitPidArgs;
    const s = await mgr.waitPid(a.id, a.pid);
    const r: M.WaitResult = s === undefined ? { code: null } : { code: s.code };
    if (s?.signal !== undefined) r.signal = s.signal;
    return { result: r };
  });
  server.register(M.PAUSE, (arg) => {
    mgr.pause((arg as M.IdArgs).id);
    return { result: {} };
  });
  server.register(M.RESUME, (arg) => {
    mgr.resume((arg as M.IdArgs).id);
    return { result: {} };
  });
  server.register(M.EVENT, (arg) => ({ result: mgr.event((arg as M.IdArgs).id) }));
  server.register(M.DEBUG_STACKS, () => {
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
  server.register(M.DESTROY, async (arg) => {
    await mgr.destroy((arg as M.IdArgs).id);
    return { result: {} };
  });
  server.register(M.KVM_RUN_GUEST, async (arg, fds) => {
    const a = arg as M.KvmRunGuestArgs;
    const kvm = need(fds, "kvm");
    delete fds.kvm;
    try {
      if (!(GUEST_NAMES as readonly string[]).includes(a.guest)) {
        throw new Error(`kvm: no built-in guest ${JSON.stringify(a.guest)}`);
      }
      checkKvmFd(kvm, "the received fd");
      const r: M.KvmRunGuestResult = await runGuest(kvm, a.guest as GuestName, a);
      return { result: r };
    } finally {
      closeFd(kvm);
    }
  });
}
