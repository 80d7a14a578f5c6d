/**
 * The vCPU thread: a Worker that runs a vCPU's loop with synchronous KVM_RUN calls, so the
 * sandbox process's event loop keeps serving while the guest runs. It posts `ready` once loaded,
 * then, given a VcpuStart, its thread id (the stop signal's target) and the run's result.
 * @module
 */
import { gettid, viewAt } from "../../ffi/kvm.ts";
import { runLoop } from "./run_loop.ts";

/** The message that starts a vCPU thread. */
export interface VcpuStart {
  vcpuFd: number;
  runAddr: bigint;
  runSize: number;
  memAddr: bigint;
  memSize: number;
}

declare const self: {
  onmessage: ((e: MessageEvent<VcpuStart>) => void) | null;
  postMessage(m: unknown): void;
};

self.onmessage = (e) => {
  const m = e.data;
  self.onmessage = null;
  self.postMessage({ tid: gettid() });
  try {
    const result = runLoop({
      vcpuFd: m.vcpuFd,
      run: viewAt(m.runAddr, m.runSize),
      memory: viewAt(m.memAddr, m.memSize),
    });
    self.postMessage({ result });
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
self.postMessage({ ready: true });
