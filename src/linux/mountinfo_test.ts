import { assertEquals } from "../../tests/assert.ts";
import { parseMountinfo } from "./mountinfo.ts";

Deno.test("parseMountinfo() reads the fields around the separator, unescaped", () => {
  const text = [
    "35 24 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct",
    "40 24 0:35 /a\\040b /mnt/x\\040y ro - tmpfs tmpfs rw,size=64k",
    "garbage",
  ].join("\n");
  assertEquals(parseMountinfo(text), [
    {
      root: "/",
      mountPoint: "/sys/fs/cgroup/cpu,cpuacct",
      mountOptions: ["rw", "nosuid"],
      fstype: "cgroup",
      source: "cgroup",
      superOptions: ["rw", "cpu", "cpuacct"],
    },
    {
      root: "/a b",
      mountPoint: "/mnt/x y",
      mountOptions: ["ro"],
      fstype: "tmpfs",
      source: "tmpfs",
      superOptions: ["rw", "size=64k"],
    },
  ]);
});
