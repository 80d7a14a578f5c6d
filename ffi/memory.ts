/**
 * Native memory outside V8: mmap'd regions that keep their address, and the executable page
 * holding the machine code of ffi/asm/x86_64.S.
 * @module
 */
import { libc } from "./libc.ts";
import { CODE_HEX, RAW_SYSCALL_OFFSET } from "./routine_x86_64.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const MAP_FAILED = -1n;

/** A region of mmap'd memory with a byte view over it. */
export class Region {
  /** Start address. */
  readonly addr: bigint;
  /** Length in bytes. */
  readonly size: number;
  /** Read/write view of the whole region. */
  readonly bytes: Uint8Array;
  #ptr: Deno.PointerObject;

  constructor(size: number) {
    const p = libc().mmap(
      null,
      BigInt(size),
      PROT_READ | PROT_WRITE,
      MAP_PRIVATE | MAP_ANONYMOUS,
      -1,
      0n,
    );
    const addr = BigInt(Deno.UnsafePointer.value(p));
    if (p === null || addr === MAP_FAILED || addr === 0xffffffffffffffffn) {
      throw new Error(`mmap of ${size} bytes failed`);
    }
    this.#ptr = p;
    this.addr = addr;
    this.size = size;
    this.bytes = new Uint8Array(new Deno.UnsafePointerView(p).getArrayBuffer(size));
  }

  /** The region as a pointer. */
  get pointer(): Deno.PointerObject {
    return this.#ptr;
  }

  /** Makes the region read+execute (for machine code). */
  protectExec(): void {
    if (libc().mprotect(this.#ptr, BigInt(this.size), PROT_READ | PROT_EXEC) !== 0) {
      throw new Error("mprotect of the code page failed");
    }
  }

  /** Unmaps the region; the views must not be used afterwards. */
  free(): void {
    libc().munmap(this.#ptr, BigInt(this.size));
  }
}

let code: Region | undefined;

/** The executable page with run_program at offset 0 and raw_syscall after it. */
export function codePage(): Region {
  if (code === undefined) {
    const bytes = hexBytes(CODE_HEX);
    const r = new Region(4096);
    r.bytes.set(bytes);
    r.protectExec();
    code = r;
  }
  return code;
}

/** Address of run_program, the clone child routine. */
export function runProgramPointer(): Deno.PointerObject {
  return codePage().pointer;
}

/** Address of raw_syscall. */
export function rawSyscallPointer(): Deno.PointerObject {
  return Deno.UnsafePointer.offset(codePage().pointer, RAW_SYSCALL_OFFSET)!;
}

/** Decodes a hex string into bytes. */
export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The address of a buffer's first byte (the buffer must stay referenced while it is used). */
export function addressOf(buf: Uint8Array): bigint {
  if (buf.byteLength === 0) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/** Reads a NUL-terminated string at an address. */
export function readCString(addr: bigint): string {
  const p = Deno.UnsafePointer.create(addr);
  return p === null ? "" : new Deno.UnsafePointerView(p).getCString();
}
