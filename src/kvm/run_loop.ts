/**
 * A vCPU's run loop: KVM_RUN until the guest halts, writes the exit device, exits through a
 * syscall, fails, or is stopped. It blocks its thread in KVM_RUN, so it runs on a Worker
 * (src/kvm/vcpu_worker.ts); the stop request is kvm_run.immediate_exit plus a signal to that
 * thread (see requestStop()).
 * @module
 */
import { E } from "../linux/consts.ts";
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
      return fail(kvmRunError(-r));
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
      default:
        return fail(exitError(reason, t.run));
    }
  }
}

/**
 * The error of KVM_RUN itself failing with `errno`. EINVAL is KVM refusing to enter: the state
 * it was handed for this entry (registers through kvm_run's sync area, its request bits) is
 * not one a vCPU can run. Pure, for tests.
 */
export function kvmRunError(errno: number): string {
  const e = new SyscallError("ioctl", errno).message;
  return errno === E.EINVAL
    ? `KVM_RUN failed: ${e}: KVM refused to enter the guest with the vCPU state it was given`
    : `KVM_RUN failed: ${e}`;
}

/** KVM_INTERNAL_ERROR_* suberrors, by number. */
export const INTERNAL_SUBERROR: Record<number, string> = {
  1: "emulation failure",
  2: "simultaneous exceptions",
  3: "an exit while delivering an event",
  4: "an unexpected exit reason",
};

/** Well-known hardware_entry_failure_reason values. */
const ENTRY_FAILURE: Record<string, string> = {
  "0x80000021": "VMX: invalid guest state",
  "0x80000022": "VMX: MSR loading",
  "0x80000029": "VMX: machine-check event",
  "0xffffffffffffffff": "SVM: invalid VMCB state",
};

/**
 * The error of a guest-ending exit other than port I/O (MMIO, SHUTDOWN, FAIL_ENTRY,
 * INTERNAL_ERROR or an unexpected one), from the kvm_run page: the exit's name and what KVM
 * reported with it (the caller adds the guest's rip). Pure, for tests.
 */
export function exitError(reason: number, run: Uint8Array): string {
  const dv = new DataView(run.buffer, run.byteOffset, run.byteLength);
  switch (reason) {
    case KVM_EXIT.MMIO: {
      const w = run[RUN_MMIO.isWrite] !== 0;
      const addr = dv.getBigUint64(RUN_MMIO.physAddr, true);
      return `MMIO exit: ${w ? "write to" : "read from"} ${hex(addr)} ` +
        `(${dv.getUint32(RUN_MMIO.len, true)} bytes) outside guest memory`;
    }
    case KVM_EXIT.SHUTDOWN:
      return "SHUTDOWN exit: the guest shut down (triple fault)";
    case KVM_EXIT.FAIL_ENTRY: {
      const r = hex(dv.getBigUint64(RUN_FAIL_ENTRY.reason, true));
      const known = ENTRY_FAILURE[r];
      return `FAIL_ENTRY exit: the CPU refused to enter the guest (hardware reason ${r}` +
        `${known ? `, ${known}` : ""}, cpu ${dv.getUint32(RUN_FAIL_ENTRY.cpu, true)})`;
    }
    case KVM_EXIT.INTERNAL_ERROR: {
      const sub = dv.getUint32(RUN_INTERNAL.suberror, true);
      const ndata = Math.min(16, dv.getUint32(RUN_INTERNAL.ndata, true));
      const data = (i: number) => dv.getBigUint64(RUN_INTERNAL.data + 8 * i, true);
      let more = "";
      if (sub === 1 && ndata >= 3 && (data(0) & 1n) !== 0n) {
        // emulation_failure: u64 flags (bit 0: instruction bytes), u8 insn_size, insn_bytes[15]
        const at = RUN_INTERNAL.data + 8;
        const size = Math.min(15, run[at]!);
        const bytes = [...run.subarray(at + 1, at + 1 + size)];
        more = `, instruction bytes ${bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ")}`;
      } else if (sub === 4 && ndata >= 1) {
        more = `, exit reason ${hex(data(0))}`;
      }
      const name = INTERNAL_SUBERROR[sub];
      return `INTERNAL_ERROR exit: KVM could not handle the guest (suberror ${sub}` +
        `${name ? `: ${name}` : ""}${more})`;
    }
    default:
      return `unexpected ${exitName(reason)} exit (reason ${reason})`;
  }
}
