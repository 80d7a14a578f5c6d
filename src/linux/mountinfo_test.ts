import { assertEquals } from "../../tests/assert.ts";
import { mountOf, parseMountinfo, procSysOutside } from "./mountinfo.ts";

const TEXT = [
  "22 27 0:21 / /proc rw,relatime - proc proc rw",
  "23 27 0:22 / /sys rw,relatime - sysfs sysfs rw",
  "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "40 27 0:40 / /work\\040dir rw master:3 - ext4 /dev/vdb rw",
  "41 40 0:21 / /work\\040dir/b/rootfs/proc rw - proc proc rw",
  "42 23 0:42 /sub /sys/x rw - sysfs sysfs rw",
].join("\n");

Deno.test("parseMountinfo() reads mount points (octal escapes), optional fields and types", () => {
  const m = parseMountinfo(TEXT);
  assertEquals(m.length, 6);
  assertEquals(m[2], {
    root: "/",
    mountPoint: "/",
    mountOptions: ["rw", "relatime"],
    optional: ["shared:1"],
    fstype: "ext4",
    source: "/dev/vda",
    superOptions: ["rw"],
  });
  assertEquals(m[3]!.mountPoint, "/work dir");
});

Deno.test("parseMountinfo() reads the fields after the separator (cgroup controllers)", () => {
  const line = "35 24 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup " +
    "rw,cpu,cpuacct";
  const [m] = parseMountinfo(line + "\ngarbage");
  assertEquals(m?.mountOptions, ["rw", "nosuid"]);
  assertEquals(m?.superOptions, ["rw", "cpu", "cpuacct"]);
  assertEquals([m?.fstype, m?.source], ["cgroup", "cgroup"]);
});

Deno.test("mountOf() finds the last mount over a path", () => {
  const m = parseMountinfo(TEXT);
  assertEquals(mountOf(m, "/work dir/b/rootfs")?.mountPoint, "/work dir");
  assertEquals(mountOf(m, "/work dirx")?.mountPoint, "/");
});

Deno.test("procSysOutside() lists whole proc and sysfs mounts outside the rootfs", () => {
  assertEquals(procSysOutside(parseMountinfo(TEXT), "/work dir/b/rootfs"), ["/proc", "/sys"]);
});
