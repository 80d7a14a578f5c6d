/**
 * The VMM's devices on port I/O: a 16550 UART at 0x3f8 (enough for a console), the exit device
 * at 0xf4 (a byte: the guest's status), the syscall port 0xf5 (an `in` whose exit is a guest
 * syscall) and a counting port 0xf6 for benchmarks. Pure: the run loop hands them each exit.
 * @module
 */
import { E } from "../linux/consts.ts";

/** Base port of the first serial port (COM1). */
export const UART_BASE = 0x3f8;
/** A byte written here ends the run with that status. */
export const EXIT_PORT = 0xf4;
/** An `in` from here is a syscall of the guest's user code (number in RAX). */
export const SYSCALL_PORT = 0xf5;
/** Writes here are only counted (the port-I/O benchmark). */
export const COUNT_PORT = 0xf6;
/** Console output kept per run; more is dropped (and counted). */
export const OUTPUT_CAP = 64 << 10;

/**
 * A 16550 UART without interrupts or FIFO timing: THR writes are the console, LSR always says
 * the transmitter is empty, the other registers keep what is written (DLAB selects the divisor).
 */
export class Uart16550 {
  #regs = new Uint8Array(8);
  #divisor = [0x0c, 0x00];
  #out: number[] = [];
  /** Bytes dropped over OUTPUT_CAP. */
  dropped = 0;

  /** True for the UART's 8 ports. */
  owns(port: number): boolean {
    return port >= UART_BASE && port < UART_BASE + 8;
  }

  /** A write to the UART. */
  write(port: number, value: number): void {
    const r = port - UART_BASE;
    const dlab = (this.#regs[3]! & 0x80) !== 0;
    if (r === 0 && !dlab) {
      if (this.#out.length < OUTPUT_CAP) this.#out.push(value & 0xff);
      else this.dropped++;
    } else if (r <= 1 && dlab) this.#divisor[r] = value & 0xff;
    else if (r !== 2 && r !== 5 && r !== 6) this.#regs[r] = value & 0xff;
  }

  /** A read from the UART. */
  read(port: number): number {
    const r = port - UART_BASE;
    const dlab = (this.#regs[3]! & 0x80) !== 0;
    if (r <= 1 && dlab) return this.#divisor[r]!;
    switch (r) {
      case 0:
        return 0; // nothing received
      case 2:
        return 0x01; // IIR: no interrupt pending
      case 5:
        return 0x60; // LSR: THR empty, transmitter empty
      case 6:
        return 0xb0; // MSR: DCD, DSR, CTS
      default:
        return this.#regs[r]!;
    }
  }

  /** What the guest printed. */
  output(): string {
    return new TextDecoder().decode(new Uint8Array(this.#out));
  }
}

/** A guest syscall as the VMM sees it. */
export interface GuestSyscall {
  nr: number;
  args: [bigint, bigint, bigint, bigint, bigint, bigint];
}

/** What the VMM answers a syscall with. */
export type SyscallAnswer = { result: bigint } | { exit: number };

/** Linux x86_64 numbers the syscall guest uses. */
export const GUEST_SYS = { write: 1, getpid: 39, exit: 60, exit_group: 231 } as const;

const EFAULT = 14n;

/**
 * The VMM's answer to the syscall guest: write(1|2) goes to the console (the buffer read from
 * guest memory: identity-mapped), getpid is 1, exit/exit_group end the run, the rest ENOSYS.
 */
export function answerSyscall(
  s: GuestSyscall,
  memory: Uint8Array,
  uart: Uart16550,
): SyscallAnswer {
  switch (s.nr) {
    case GUEST_SYS.write: {
      const [fd, buf, len] = s.args;
      if (fd !== 1n && fd !== 2n) return { result: -9n }; // EBADF
      if (buf + len > BigInt(memory.byteLength) || len > 0x10000n) return { result: -EFAULT };
      for (const b of memory.subarray(Number(buf), Number(buf + len))) uart.write(UART_BASE, b);
      return { result: len };
    }
    case GUEST_SYS.getpid:
      return { result: 1n };
    case GUEST_SYS.exit:
    case GUEST_SYS.exit_group:
      return { exit: Number(s.args[0] & 0xffn) };
    default:
      return { result: -BigInt(E.ENOSYS) };
  }
}
