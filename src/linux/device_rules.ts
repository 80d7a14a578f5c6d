/**
 * The device cgroup rules a container gets: the spec's `linux.resources.devices`, then (as runc
 * does) the default devices every container has, mknod of anything, and the devices listed in
 * `linux.devices`, so that a spec that denies everything still has a working /dev.
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
  rule("c", 5, 1, "rwm"), // console
  rule("c", 136, undefined, "rwm"), // pts/*
  rule("c", 5, 2, "rwm"), // ptmx
  rule("c", 10, 200, "rwm"), // net/tun
];

/** The spec's resources with the default and listed devices allowed after its own rules. */
export function resourcesWithDevices(spec: Spec): LinuxResources {
  const res = spec.linux?.resources ?? {};
  const listed = (spec.linux?.devices ?? [])
    .filter((d) => d.type === "c" || d.type === "b")
    .map((d) => rule(d.type as "c" | "b", d.major, d.minor, "rwm"));
  return { ...res, devices: [...(res.devices ?? []), ...DEFAULT_DEVICE_RULES, ...listed] };
}
