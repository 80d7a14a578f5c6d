import { assert, assertEquals } from "../../tests/assert.ts";
import { checkText, hostChecks, type HostView, kernelAtLeast, type SyscallName } from "./check.ts";

/** A fake host: files under a temp dir, chosen syscalls missing. */
function fakeHost(files: Record<string, string>, missing: SyscallName[] = []): HostView {
  const root = Deno.makeTempDirSync({ prefix: "runts-fake-host-" });
  for (const [path, text] of Object.entries(files)) {
    Deno.mkdirSync(`${root}${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    Deno.writeTextFileSync(`${root}${path}`, text);
  }
  return {
    root,
    uid: 1000,
    user: "alice",
    hasSyscall: (n) => !missing.includes(n),
    libseccomp: () => undefined,
  };
}

/** /proc/self/mountinfo with these mounts ([mount point, fstype, super options]) and a root. */
function mountinfo(...mounts: [string, string, string][]): string {
  return [
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
    ...mounts.map(([at, type, opts], i) =>
      `${30 + i} 22 0:${30 + i} / ${at} rw,nosuid,nodev,noexec,relatime - ${type} ${type} ${opts}`
    ),
  ].join("\n") + "\n";
}

const NS = ["mnt", "pid", "uts", "ipc", "net", "cgroup"];
const base: Record<string, string> = {
  "/proc/sys/kernel/osrelease": "6.1.0-13-amd64\n",
  "/proc/self/status": "Name:\tx\nSeccomp:\t0\n",
  "/proc/self/mountinfo": mountinfo(["/sys/fs/cgroup", "cgroup2", "rw,nsdelegate"]),
  "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory pids\n",
  ...Object.fromEntries(NS.map((n) => [`/proc/self/ns/${n}`, ""])),
};

function line(view: HostView, name: string): string {
  return checkText(hostChecks(view)).split("\n").find((l) => l.slice(2).startsWith(`${name}:`))!;
}

Deno.test("check on a host without user namespaces, libseccomp, kvm or idmap tools", () => {
  const v = fakeHost({ ...base, "/proc/sys/kernel/unprivileged_userns_clone": "0\n" });
  try {
    const checks = hostChecks(v);
    assert(checks.every((c) => c.ok || !c.required), "run works: all that it needs is there");
    assertEquals(
      line(v, "user namespace"),
      "✘ user namespace: no /proc/self/ns/user — specs asking for a user namespace fail",
    );
    assertEquals(
      line(v, "unprivileged user namespaces"),
      "✘ unprivileged user namespaces: kernel.unprivileged_userns_clone = 0 — rootless containers (runts run by a user) cannot start",
    );
    assertEquals(line(v, "cgroups"), "✔ cgroups: v2, controllers: cpuset cpu io memory pids");
    assertEquals(
      line(v, "cgroup delegation (rootless)"),
      "✘ cgroup delegation (rootless): no cgroup2 subtree delegated to this user — rootless containers run without cgroup limits",
    );
    assertEquals(
      line(v, "libseccomp"),
      "✘ libseccomp: libseccomp.so.2 not found — specs with linux.seccomp cannot run (install libseccomp2)",
    );
    assertEquals(line(v, "/dev/kvm"), "✘ /dev/kvm: no /dev/kvm — --platform kvm is not available");
    assertEquals(
      line(v, "/etc/subuid for alice"),
      "✘ /etc/subuid for alice: no range — rootless containers can map only the user's own id",
    );
    assertEquals(checkText(checks).split("\n").at(-1), "runts run can run containers on this host");
  } finally {
    Deno.removeSync(v.root, { recursive: true });
  }
});

Deno.test("check on an old kernel without openat2 and the new mount API: run cannot work", () => {
  const v = fakeHost(
    { ...base, "/proc/sys/kernel/osrelease": "5.4.0\n", "/etc/subuid": "alice:100000:65536\n" },
    ["openat2", "mount_setattr"],
  );
  try {
    const checks = hostChecks(v);
    assertEquals(
      line(v, "new mount API"),
      "✘ new mount API: missing: mount_setattr — required: runts mounts the rootfs with it: no container can start",
    );
    assertEquals(line(v, "kernel").slice(0, 1), "✘");
    assertEquals(line(v, "/etc/subuid for alice"), "✔ /etc/subuid for alice: has a range");
    assertEquals(
      checkText(checks).split("\n").at(-1),
      "runts run cannot run containers here: missing kernel, new mount API, openat2",
    );
  } finally {
    Deno.removeSync(v.root, { recursive: true });
  }
});

Deno.test("check reads the cgroup mode: v1, hybrid, none", () => {
  const v1: [string, string, string][] = [
    ["/sys/fs/cgroup/systemd", "cgroup", "rw,xattr,name=systemd"],
    ["/sys/fs/cgroup/cpu,cpuacct", "cgroup", "rw,cpu,cpuacct"],
    ["/sys/fs/cgroup/memory", "cgroup", "rw,memory"],
  ];
  const unified: [string, string, string] = ["/sys/fs/cgroup/unified", "cgroup2", "rw"];
  const roV2: [string, string, string] = ["/sys/fs/cgroup", "cgroup2", "ro"];
  for (
    const [mounts, want] of [
      [v1, "✔ cgroups: v1, controllers: cpu cpuacct memory"],
      [
        [...v1, unified],
        "✔ cgroups: hybrid (v1 controllers, cgroup2 at /sys/fs/cgroup/unified), controllers: cpu cpuacct memory",
      ],
      [
        [roV2],
        "✘ cgroups: no writable cgroup hierarchy is mounted (see /proc/self/mountinfo) — required: resource limits, pause/resume, stats and kill --all cannot work",
      ],
    ] as const
  ) {
    const files = { ...base, "/proc/self/mountinfo": mountinfo(...mounts) };
    const v = fakeHost(files);
    try {
      assertEquals(line(v, "cgroups"), want);
    } finally {
      Deno.removeSync(v.root, { recursive: true });
    }
  }
  assert(kernelAtLeast("5.12.0", [5, 12]) && !kernelAtLeast("5.11.9", [5, 12]));
});
