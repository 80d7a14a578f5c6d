/**
 * Loading the container's seccomp filter, and handing a NOTIFY listener to the parent.
 * @module
 */
import { Blob, REPORT_FD } from "../../../ffi/program.ts";
import { u64s } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import type { Builder } from "./builder.ts";
import { SCRATCH_FD } from "./options.ts";

/** A struct sock_fprog with its filter, as seccomp(SECCOMP_SET_MODE_FILTER) takes it. */
export function filterProg(filter: Uint8Array): Blob {
  return new Blob(16 + filter.byteLength, (addr) => {
    const b = new Uint8Array(16 + filter.byteLength);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, filter.byteLength / 8, true);
    dv.setBigUint64(8, addr + 16n, true);
    b.set(filter, 16);
    return b;
  });
}

/** seccomp(2) operation that loads a filter. */
export const SECCOMP_SET_MODE_FILTER = 1;

/** seccomp(SECCOMP_SET_MODE_FILTER): the last step before execve, which it must allow. */
export function loadSeccomp(
  b: Builder,
  sc: { filter: Uint8Array; flags: number; notify?: boolean },
): void {
  const filter = sc.filter;
  const prog = filterProg(filter);
  const listener = b.call("seccomp", SYS.seccomp, [SECCOMP_SET_MODE_FILTER, sc.flags, prog], {
    subject: `linux.seccomp (${filter.byteLength / 8} instructions)`,
  });
  if (!sc.notify) return;
  // The listener fd goes to the parent (pidfd_getfd of SCRATCH_FD), which sends it on to
  // linux.seccomp.listenerPath; these few calls must be allowed by the filter (runc's rule).
  b.call("dup2", SYS.dup2, [listener, SCRATCH_FD], { subject: "seccomp listener" });
  b.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_fffdn, 0n), 16], {
    subject: "seccomp listener report",
  });
  b.call("read", SYS.read, [b.o.ctlFd, new Uint8Array(8), 1], {
    zeroFails: true,
    subject: "waiting for the seccomp listener to be taken",
  });
  b.call("close", SYS.close, [SCRATCH_FD]);
  b.call("close", SYS.close, [listener]);
}
