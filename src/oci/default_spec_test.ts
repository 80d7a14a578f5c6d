import { assert, assertEquals } from "../../tests/assert.ts";
import { parseSpec } from "./config.ts";
import { defaultSpec, OCI_VERSION } from "./default_spec.ts";
import type { Spec } from "./spec.ts";

function runcPath(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/runc`).isFile) return `${dir}/runc`;
    } catch {
      // not here
    }
  }
  return undefined;
}

const RUNC = runcPath();

/** Runs `runc spec [args]` in a temp dir and returns the document it wrote. */
async function runcSpec(args: string[]): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(RUNC!, { args: ["spec", ...args], cwd: dir }).output();
    assert(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(Deno.readTextFileSync(`${dir}/config.json`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Brings an older runc's document to runc 1.2's: its ociVersion, no ambient capabilities
 * (removed from the example in runc 1.2), /sys/devices/virtual/tpm masked (added in 1.2); and
 * the one intended difference: runts names the hostname "runts".
 */
// deno-lint-ignore no-explicit-any
function asRunc12(doc: any): Record<string, unknown> {
  doc.ociVersion = OCI_VERSION;
  doc.hostname = "runts";
  delete doc.process.capabilities.ambient;
  const masked: string[] = doc.linux.maskedPaths;
  if (!masked.includes("/sys/devices/virtual/tpm")) masked.push("/sys/devices/virtual/tpm");
  return doc;
}

Deno.test("defaultSpec() gives runc's example document", () => {
  const s = defaultSpec({ cgroupNamespace: false });
  assertEquals(s.ociVersion, "1.2.0");
  assertEquals(s.process?.terminal, true);
  assertEquals(s.process?.args, ["sh"]);
  assertEquals(s.process?.cwd, "/");
  assertEquals(s.process?.env, [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TERM=xterm",
  ]);
  const caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
  assertEquals(s.process?.capabilities, { bounding: caps, effective: caps, permitted: caps });
  assertEquals(s.process?.rlimits, [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }]);
  assertEquals(s.process?.noNewPrivileges, true);
  assertEquals(s.root, { path: "rootfs", readonly: true });
  assertEquals(s.hostname, "runts");
  assertEquals(s.mounts?.map((m) => [m.destination, m.type]), [
    ["/proc", "proc"],
    ["/dev", "tmpfs"],
    ["/dev/pts", "devpts"],
    ["/dev/shm", "tmpfs"],
    ["/dev/mqueue", "mqueue"],
    ["/sys", "sysfs"],
    ["/sys/fs/cgroup", "cgroup"],
  ]);
  assertEquals(s.mounts?.[2]?.options, [
    "nosuid",
    "noexec",
    "newinstance",
    "ptmxmode=0666",
    "mode=0620",
    "gid=5",
  ]);
  assertEquals(s.linux?.namespaces?.map((n) => n.type), ["pid", "network", "ipc", "uts", "mount"]);
  assertEquals(s.linux?.resources, { devices: [{ allow: false, access: "rwm" }] });
  assertEquals(s.linux?.maskedPaths?.length, 11);
  assertEquals(s.linux?.readonlyPaths, [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
  ]);
});

Deno.test("defaultSpec() adds a cgroup namespace on a cgroup v2 host, as runc does", () => {
  const s = defaultSpec({ cgroupNamespace: true });
  assertEquals(s.linux?.namespaces?.at(-1), { type: "cgroup" });
});

Deno.test("defaultSpec() uses the given args and returns a fresh document each call", () => {
  const args = ["/bin/echo", "hi"];
  const a = defaultSpec({ args });
  args.push("changed");
  assertEquals(a.process?.args, ["/bin/echo", "hi"]);
  a.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
  assertEquals(defaultSpec().process?.capabilities?.bounding?.length, 3);
});

Deno.test("defaultSpec() rootless maps the caller to root and drops what needs privilege", () => {
  const s = defaultSpec({ rootless: true, uid: 1000, gid: 100, cgroupNamespace: false });
  assertEquals(s.linux?.namespaces?.map((n) => n.type), ["pid", "ipc", "uts", "mount", "user"]);
  assertEquals(s.linux?.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assertEquals(s.linux?.gidMappings, [{ containerID: 0, hostID: 100, size: 1 }]);
  assertEquals(s.linux?.resources, undefined);
  assertEquals(s.mounts?.find((m) => m.destination === "/sys"), {
    destination: "/sys",
    type: "none",
    source: "/sys",
    options: ["rbind", "nosuid", "noexec", "nodev", "ro"],
  });
  assert(!s.mounts?.some((m) => m.options?.some((o) => o.startsWith("gid="))));
});

Deno.test("defaultSpec() passes parseSpec()", () => {
  for (const rootless of [false, true]) {
    const s: Spec = defaultSpec({ rootless });
    assertEquals(parseSpec(JSON.stringify(s)), s);
  }
});

Deno.test({
  name: "defaultSpec() is byte for byte what `runc spec` writes (normalized to runc 1.2)",
  ignore: RUNC === undefined,
  fn: async () => {
    const runc = asRunc12(await runcSpec([]));
    assertEquals(JSON.stringify(defaultSpec(), null, "\t"), JSON.stringify(runc, null, "\t"));
  },
});

Deno.test({
  name: "defaultSpec() rootless is byte for byte what `runc spec --rootless` writes",
  ignore: RUNC === undefined,
  fn: async () => {
    const runc = asRunc12(await runcSpec(["--rootless"]));
    const ours = defaultSpec({ rootless: true, uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 });
    assertEquals(JSON.stringify(ours, null, "\t"), JSON.stringify(runc, null, "\t"));
  },
});
