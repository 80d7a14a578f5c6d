/**
 * Namespaces the init makes or joins, and what is set in them: the runtime's fds closed first,
 * setns of given namespaces, a new time namespace with its offsets, lo up in a new network
 * namespace, hostname and domain name.
 * @module
 */
import { ifreqFlags } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { AF_INET, AT_FDCWD, NS_FLAG, O, SIOCSIFFLAGS, SOCK_DGRAM_CLOEXEC } from "../consts.ts";
import type { Builder } from "./builder.ts";
import { type NsType, SCRATCH_FD } from "./options.ts";

/**
 * Closes the runtime's own fds that the clone copied (its control socket, epoll, caches...):
 * every fd the program uses was moved to HIGH_FD (64) or above, so 3..63 go at once, and
 * nothing of the runtime stays reachable while the process waits for start.
 */
export function closeRuntimeFds(b: Builder): void {
  b.call("close_range", SYS.close_range, [3, SCRATCH_FD, 0], {
    subject: "the runtime's fds",
  });
}

/** setns into the namespaces given by path (pid is joined by the parent), user first. */
export function joinNamespaces(b: Builder): void {
  const fds = b.o.nsFds ?? {};
  const order: NsType[] = ["user", "ipc", "uts", "network", "cgroup", "time", "mount"];
  for (const t of order) {
    const fd = fds[t];
    if (fd === undefined) continue;
    const path = b.spec.linux?.namespaces?.find((n) => n.type === t)?.path ?? "";
    b.call("setns", SYS.setns, [fd, NS_FLAG[t]], {
      subject: `${t} namespace ${JSON.stringify(path)}`,
    });
  }
}

/** A new time namespace with linux.timeOffsets, entered through time_for_children. */
export function newTimeNamespace(b: Builder): void {
  b.call("unshare", SYS.unshare, [NS_FLAG.time], { subject: "CLONE_NEWTIME" });
  const offsets = b.spec.linux?.timeOffsets ?? {};
  const lines = Object.entries(offsets)
    .map(([clock, v]) => `${clock} ${v.secs ?? 0} ${v.nanosecs ?? 0}\n`)
    .join("");
  if (lines !== "") {
    const fd = b.call("openat", SYS.openat, [
      AT_FDCWD,
      "/proc/self/timens_offsets",
      O.WRONLY | O.CLOEXEC,
      0,
    ], { subject: '"/proc/self/timens_offsets"' });
    const bytes = new TextEncoder().encode(lines);
    b.call("write", SYS.write, [fd, bytes, bytes.byteLength], {
      subject: `linux.timeOffsets ${JSON.stringify(lines.trim())}`,
    });
    b.call("close", SYS.close, [fd]);
  }
  const ns = b.call("openat", SYS.openat, [
    AT_FDCWD,
    "/proc/self/ns/time_for_children",
    O.RDONLY | O.CLOEXEC,
    0,
  ], { subject: '"/proc/self/ns/time_for_children"' });
  b.call("setns", SYS.setns, [ns, NS_FLAG.time], { subject: "the new time namespace" });
}

/** Brings lo up in a new network namespace. */
export function loopbackUp(b: Builder): void {
  const sock = b.call("socket", SYS.socket, [AF_INET, SOCK_DGRAM_CLOEXEC, 0]);
  // IFF_UP | IFF_LOOPBACK | IFF_RUNNING
  b.call("ioctl", SYS.ioctl, [sock, SIOCSIFFLAGS, ifreqFlags("lo", 0x1 | 0x8 | 0x40)], {
    subject: 'SIOCSIFFLAGS "lo" up',
  });
  b.call("close", SYS.close, [sock]);
}

/** hostname and domainname. */
export function uts(b: Builder): void {
  const enc = new TextEncoder();
  const host = b.spec.hostname;
  if (host !== undefined && host !== "") {
    b.call("sethostname", SYS.sethostname, [host, enc.encode(host).byteLength], {
      subject: JSON.stringify(host),
    });
  }
  const domain = b.spec.domainname;
  if (domain !== undefined && domain !== "") {
    b.call("setdomainname", SYS.setdomainname, [domain, enc.encode(domain).byteLength], {
      subject: JSON.stringify(domain),
    });
  }
}
