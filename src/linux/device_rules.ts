/**
 * The device cgroup rules a container gets: the spec's `linux.resources.devices`, then (as runc
 * does) the default devices every container has and mknod of anything, so that a spec that
 * denies everything still has a working /dev.
 *
 * The nodes of `linux.devices` are created in the container's /dev but are not allowed by
 * these rules: access to them is what `linux.resources.devices` says (runc's behaviour; Docker
 * and podman write an allow rule for each device they add). Allowing them here would let a
 * spec that denies every device still read and write them (/dev/kmsg, a disk). /dev/console
 * (5:1, the host's console) is not a default either: a terminal's console is a pty (136:*).
 * @module
 */
import type { LinuxDeviceCgroup, LinuxResources, Spec } from "../oci/spec.ts";

const rule = (
  type: "c" | "b",
  major: number | undefined,
  minor: number | undefined,
  access: string,
): LinuxDeviceCgroup => ({
  allow: true,
  type,
  ...(major !== undefined ? { major } : {}),
  ...(minor !== undefined ? { minor } : {}),
  access,
});

/** runc's allowed devices: mknod of any device, and the standard character devices. */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = [
  rule("c", undefined, undefined, "m"),
  rule("b", undefined, undefined, "m"),
  rule("c", 1, 3, "rwm"), // null
  rule("c", 1, 8, "rwm"), // random
  rule("c", 1, 7, "rwm"), // full
  rule("c", 5, 0, "rwm"), // tty
  rule("c", 1, 5, "rwm"), // zero
  rule("c", 1, 9, "rwm"), // urandom
  rule("c", 136, undefined, "rwm"), // pts/*
  rule("c", 5, 2, "rwm"), // ptmx
  rule("c", 10, 200, "rwm"), // net/tun
];

/** The spec's resources with the default devices allowed after its own rules. */
export function resourcesWithDevices(
  spec: Spec,
): LinuxResources & { devices: LinuxDeviceCgroup[] } {
  const res = spec.linux?.resources ?? {};
  return { ...res, devices: [...(res.devices ?? []), ...DEFAULT_DEVICE_RULES] };
}
