/**
 * Runs one built-in guest on a checked /dev/kvm fd: creates the VM and its vCPU, loads the
 * guest, runs the vCPU on its own thread with a timeout, and closes everything it opened.
 * @module
 */
import { installStopHandler, tgkill } from "../../ffi/kvm.ts";
import { REG_NAMES, type Regs, RUN } from "../../ffi/structs/kvm.ts";
import { type GuestName, guestSetup, longModeSregs, realModeSregs } from "./guests.ts";
import type { RunResult } from "./run_loop.ts";
import { supportedCpuid, Vm } from "./vm.ts";
import type { VcpuStart } from "./vcpu_worker.ts";

/** Options of runGuest(). */
export interface RunGuestOptions {
  /** Guest memory (default 2 MiB, capped by MAX_GUEST_MEMORY). */
  memoryBytes?: number;
  /** The vCPU is stopped after this long (default 10 s). */
  timeoutMs?: number;
  /** Iterations of the pio and syscall guests' loops. */
  count?: number;
}

/** A guest's run with the VMM's timings. */
export interface GuestRun extends RunResult {
  guest: GuestName;
  /** What the run should end with. */
  expect: string;
  /** KVM_CREATE_VM, guest memory, slot, vCPU, CPUID (ms). */
  createMs: number;
  /** Loading the image and setting the registers (ms). */
  setupMs: number;
  /** Starting the vCPU thread until it ran (ms). */
  threadMs: number;
}

/**
 * The signal that interrupts KVM_RUN on a vCPU thread: SIGRTMIN+6, a real-time signal nothing
 * else in runts or Deno uses, with a do-nothing handler (installStopHandler).
 */
export const STOP_SIGNO = 40;
const DEFAULT_MEMORY = 2 << 20;

/**
 * The vCPU thread's module: from source, src/kvm/vcpu_worker.ts; in the one-file bundle or a
 * compiled binary that file does not exist, and the main module (main.ts) runs the loop when
 * it finds itself in a Worker.
 */
function workerUrl(): URL {
  return import.meta.url.endsWith("/src/kvm/machine.ts")
    ? new URL("./vcpu_worker.ts", import.meta.url)
    : new URL(Deno.mainModule);
}

/** Runs guest `name` to its end (or the timeout) on the KVM device `kvmFd`. */
export async function runGuest(
  kvmFd: number,
  name: GuestName,
  o: RunGuestOptions = {},
): Promise<GuestRun> {
  const memoryBytes = o.memoryBytes ?? DEFAULT_MEMORY;
  const setup = guestSetup(name, { memoryBytes, ...(o.count ? { count: o.count } : {}) });
  const t0 = performance.now();
  const vm = Vm.create(kvmFd, memoryBytes);
  let worker: Worker | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let resend: ReturnType<typeof setInterval> | undefined;
  installStopHandler(STOP_SIGNO);
  try {
    const vcpu = vm.createVcpu(0, supportedCpuid(kvmFd));
    const t1 = performance.now();
    for (const w of setup.writes) {
      if (w.addr + w.bytes.byteLength > memoryBytes) {
        throw new Error(`kvm: guest "${name}" does not fit in ${memoryBytes} bytes of memory`);
      }
      vm.memory.bytes.set(w.bytes, w.addr);
    }
    const s = vcpu.getSregs();
    vcpu.setSregs(setup.mode === "long" ? longModeSregs(s) : realModeSregs(s));
    const regs = Object.fromEntries(REG_NAMES.map((n) => [n, 0n])) as Regs;
    regs.rflags = 2n;
    Object.assign(regs, setup.regs);
    vcpu.setRegs(regs);
    const t2 = performance.now();
    worker = new Worker(workerUrl(), { type: "module" });
    const w = worker;
    let tid = 0;
    let started = 0;
    const result = await new Promise<RunResult>((resolve, reject) => {
      type Msg = { ready?: true; tid?: number; result?: RunResult; error?: string };
      w.onmessage = (e: MessageEvent<Msg>) => {
        if (e.data.ready) {
          w.postMessage(
            {
              vcpuFd: vcpu.fd,
              runAddr: vcpu.run.addr,
              runSize: vcpu.run.size,
              memAddr: vm.memory.addr,
              memSize: vm.memory.size,
            } satisfies VcpuStart,
          );
        } else if (e.data.tid !== undefined) {
          tid = e.data.tid;
          started = performance.now();
        } else if (e.data.result) resolve(e.data.result);
        else reject(new Error(`kvm: vCPU thread: ${e.data.error}`));
      };
      w.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`kvm: vCPU thread: ${e.message}`));
      };
      timer = setTimeout(() => {
        // immediate_exit makes the next KVM_RUN return EINTR; the signal ends the current one.
        vcpu.run.bytes[RUN.immediateExit] = 1;
        const kick = () => tid !== 0 && tgkill(Deno.pid, tid, STOP_SIGNO);
        kick();
        resend = setInterval(kick, 100);
      }, o.timeoutMs ?? 10_000);
    });
    return {
      ...result,
      guest: name,
      expect: setup.expect,
      createMs: t1 - t0,
      setupMs: t2 - t1,
      threadMs: started - t2,
    };
  } finally {
    clearTimeout(timer);
    clearInterval(resend);
    worker?.terminate();
    vm.close();
  }
}
