/**
 * A vCPU's run loop: KVM_RUN until the guest halts, writes the exit device, exits through a
 * syscall, fails, or is stopped. It blocks its thread in KVM_RUN, so it runs on a Worker
 * (src/kvm/vcpu_worker.ts); the stop request is kvm_run.immediate_exit plus a signal to that
 * thread (see requestStop()).
 * @module
 */
import { exitName, ioctlRaw, KVM, KVM_EXIT, KVM_EXIT_IO_OUT } from "../../ffi/kvm.ts";
import { SyscallError } from "../../ffi/error.ts";
import {
  decodeRegs,
  REGS_SIZE,
  RUN,
  RUN_FAIL_ENTRY,
  RUN_INTERNAL,
  RUN_IO,
  RUN_MMIO,
} from "../../ffi/structs/kvm.ts";
import { answerSyscall, COUNT_PORT, EXIT_PORT, SYSCALL_PORT, Uart16550 } from "./devices.ts";

/** How a run ended. */
export interface RunResult {
  end: "halt" | "exit" | "timeout" | "error";
  /** The status written to the exit device or given to exit_group. */
  status?: number;
  /** The error, one sentence naming the exit and the guest's rip. */
  error?: string;
  /** The guest's rip at the end, hex. */
  rip: string;
  /** The console output. */
  output: string;
  /** Exits seen: all, port I/O, syscalls. */
  exits: number;
  ioExits: number;
  syscalls: number;
  /** Microseconds of the first KVM_RUN (first entry until the first exit). */
  firstEntryUs: number;
  /** Milliseconds from the first KVM_RUN to the end. */
  runMs: number;
}

/** What the loop runs on (views of the kvm_run page and of guest memory). */
export interface LoopTarget {
  vcpuFd: number;
  run: Uint8Array;
  memory: Uint8Array;
}

const EINTR = 4;
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** Runs the vCPU until its guest ends; never throws for what the guest does. */
export function runLoop(t: LoopTarget): RunResult {
  const dv = new DataView(t.run.buffer, t.run.byteOffset, t.run.byteLength);
  const uart = new Uart16550();
  const regsBuf = new Uint8Array(REGS_SIZE);
  const regs = () => {
    const r = ioctlRaw(t.vcpuFd, KVM.GET_REGS, regsBuf);
    if (r < 0) throw new SyscallError("ioctl", -r, "KVM_GET_REGS");
    return decodeRegs(regsBuf);
  };
  const rip = () => {
    try {
      return hex(regs().rip);
    } catch {
      return "unknown";
    }
  };
  let exits = 0, ioExits = 0, syscalls = 0, firstEntryUs = -1;
  const t0 = performance.now();
  const done = (
    end: RunResult["end"],
    more: { status?: number; error?: string } = {},
  ): RunResult => ({
    end,
    ...more,
    rip: rip(),
    output: uart.output() + (uart.dropped ? `\n[${uart.dropped} bytes of output dropped]` : ""),
    exits,
    ioExits,
    syscalls,
    firstEntryUs: Math.max(0, firstEntryUs),
    runMs: performance.now() - t0,
  });
  const fail = (what: string) => done("error", { error: `${what} at rip ${rip()}` });
  for (;;) {
    const r = ioctlRaw(t.vcpuFd, KVM.RUN, 0);
    if (firstEntryUs < 0) firstEntryUs = (performance.now() - t0) * 1000;
    if (r < 0) {
      if (-r === EINTR) {
        if (t.run[RUN.immediateExit] !== 0) return done("timeout");
        continue;
      }
      return fail(`KVM_RUN failed: ${new SyscallError("ioctl", -r).message}`);
    }
    exits++;
    const reason = dv.getUint32(RUN.exitReason, true);
    switch (reason) {
      case KVM_EXIT.IO: {
        ioExits++;
        const out = t.run[RUN_IO.direction] === KVM_EXIT_IO_OUT;
        const size = t.run[RUN_IO.size]!;
        const port = dv.getUint16(RUN_IO.port, true);
        const count = dv.getUint32(RUN_IO.count, true);
        const off = Number(dv.getBigUint64(RUN_IO.dataOffset, true));
        if (port === COUNT_PORT && out) continue;
        if (uart.owns(port) && size === 1) {
          for (let i = 0; i < count; i++) {
            if (out) uart.write(port, t.run[off + i]!);
            else t.run[off + i] = uart.read(port);
          }
          continue;
        }
        if (port === EXIT_PORT && out) return done("exit", { status: t.run[off]! });
        if (port === SYSCALL_PORT && !out && size === 4) {
          syscalls++;
          const g = regs();
          const a = answerSyscall(
            {
              nr: Number(g.rax),
              args: [g.rdi, g.rsi, g.rdx, g.r10, g.r8, g.r9],
            },
            t.memory,
            uart,
          );
          if ("exit" in a) return done("exit", { status: a.exit });
          dv.setUint32(off, Number(BigInt.asUintN(32, a.result)), true);
          continue;
        }
        return fail(
          `port I/O exit: ${out ? "write to" : "read from"} port ${hex(port)} (size ${size}) ` +
            "has no device",
        );
      }
      case KVM_EXIT.HLT:
        return done("halt");
      case KVM_EXIT.MMIO: {
        const w = t.run[RUN_MMIO.isWrite] !== 0;
        const addr = dv.getBigUint64(RUN_MMIO.physAddr, true);
        return fail(
          `MMIO exit: ${w ? "write to" : "read from"} ${hex(addr)} ` +
            `(${dv.getUint32(RUN_MMIO.len, true)} bytes) outside guest memory`,
        );
      }
      case KVM_EXIT.SHUTDOWN:
        return fail("SHUTDOWN exit: the guest shut down (triple fault)");
      case KVM_EXIT.FAIL_ENTRY:
        return fail(
          `FAIL_ENTRY exit: the CPU refused to enter the guest (hardware reason ${
            hex(dv.getBigUint64(RUN_FAIL_ENTRY.reason, true))
          })`,
        );
      case KVM_EXIT.INTERNAL_ERROR:
        return fail(
          `INTERNAL_ERROR exit: KVM could not handle the guest (suberror ${
            dv.getUint32(RUN_INTERNAL.suberror, true)
          })`,
        );
      default:
        return fail(`unexpected ${exitName(reason)} exit (reason ${reason})`);
    }
  }
}
