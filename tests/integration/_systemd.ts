/**
 * A real systemd for tests of the systemd cgroup driver: a Debian bookworm rootfs with systemd
 * (scripts/systemd_rootfs.sh: debootstrap, cached under build/) booted as PID 1 in a container
 * that runts runs, with what systemd needs there: a cgroup namespace, a read-write `cgroup` mount
 * at /sys/fs/cgroup, Docker's capabilities plus CAP_SYS_ADMIN (not CAP_SYS_RESOURCE, which the
 * host's bounding set lacks) and a tmpfs on /run. The worktree, the Deno binary and the busybox
 * rootfs are bound read-only, so runts runs inside with its systemd.
 *
 * Never bind the host's /sys/fs/cgroup into it: its systemd would write into the host's tree.
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import {
  DOCKER_CAPS,
  makeBundle,
  newRoot,
  REPO,
  ROOTFS,
  runts,
  type RuntsResult,
} from "./_helpers.ts";

const exists = (p: string) => {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds (or finds, cached) the systemd rootfs `build/<name>` with extra Debian packages; a
 * reason to skip when it cannot (not root, no busybox rootfs, debootstrap or the mirror failing).
 */
export async function systemdRootfs(
  name = "systemd-rootfs",
  extra: string[] = [],
): Promise<{ path: string } | { skip: string }> {
  if (Deno.uid() !== 0) return { skip: "needs root" };
  if (!exists(`${ROOTFS}/bin/busybox`)) return { skip: `no busybox rootfs at ${ROOTFS}` };
  const path = `${REPO}/build/${name}`;
  const out = await new Deno.Command("bash", {
    args: [`${REPO}/scripts/systemd_rootfs.sh`, path, ...(extra.length ? [extra.join(",")] : [])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").pop();
    return { skip: `cannot build ${path} (debootstrap/network?): ${why}` };
  }
  return { path };
}

/** Docker's default capabilities plus CAP_SYS_ADMIN. */
export const SYSTEMD_CAPS: string[] = [...DOCKER_CAPS, "CAP_SYS_ADMIN"];

/** Where things are bound inside the systemd container. */
export const IN = {
  repo: "/runts",
  deno: "/usr/local/bin/deno",
  rootfs: "/busybox",
  /** A writable-from-outside directory of the test (bound read-only). */
  share: "/share",
};

/** `runts` as a command line inside (no PATH needed; Deno's cache in /tmp). */
export const RUNTS_IN = `DENO_DIR=/tmp/deno ${IN.deno} run -A --no-config ${IN.repo}/main.ts`;

/** A booted systemd container. */
export interface SystemdBox {
  /** The container id (on the host). */
  id: string;
  /** A host directory bound read-only at {@linkcode IN}.share. */
  share: string;
  /** Runs a shell command inside; `out` is stdout trimmed. */
  sh(cmd: string): Promise<RuntsResult & { out: string }>;
  /** Stops the container and removes what the helper made; asserts no state is left. */
  stop(): Promise<void>;
}

/** Options of bootSystemd(). */
export interface BootOptions {
  /** The rootfs from systemdRootfs(). */
  rootfs: string;
  /** Capabilities besides {@linkcode SYSTEMD_CAPS}. */
  extraCaps?: string[];
  /** Host files bound read-only at the same path inside when they exist (`/usr/sbin/runc`). */
  hostFiles?: string[];
  /** Files to bind read-only: host path → path inside (the mount point is made in the rootfs). */
  binds?: Record<string, string>;
  /** How long systemd may take to reach running or degraded (default 60 s). */
  bootTimeoutMs?: number;
}

/** Boots systemd as PID 1 in a runts container and waits until it is running. */
export async function bootSystemd(o: BootOptions): Promise<SystemdBox> {
  const root = await newRoot();
  const id = `sd-${crypto.randomUUID().slice(0, 8)}`;
  const share = await Deno.makeTempDir({ prefix: "runts-sd-share-" });
  const caps = [...SYSTEMD_CAPS, ...(o.extraCaps ?? [])];
  const binds: [string, string][] = [
    [REPO, IN.repo],
    [Deno.execPath(), IN.deno],
    [ROOTFS, IN.rootfs],
    [share, IN.share],
    ...(o.hostFiles ?? []).filter(exists).map((f): [string, string] => [f, f]),
    ...Object.entries(o.binds ?? {}),
  ];
  // Mount points in the (writable, cached) rootfs.
  for (const [src, dst] of binds) {
    const at = o.rootfs + dst;
    if (exists(at)) continue;
    if (Deno.statSync(src).isDirectory) Deno.mkdirSync(at, { recursive: true });
    else {
      Deno.mkdirSync(at.slice(0, at.lastIndexOf("/")), { recursive: true });
      Deno.writeTextFileSync(at, "");
    }
  }
  const bundle = await makeBundle({
    args: ["/sbin/init"],
    mutate: (s) => {
      s.root = { path: o.rootfs, readonly: false };
      s.process.capabilities = { bounding: caps, effective: caps, permitted: caps };
      s.process.noNewPrivileges = false;
      s.process.env.push("container=runts");
      s.linux.namespaces.push({ type: "cgroup" });
      // Containers started inside (Docker's, runc's defaults) allow /dev/console (c 5:1), which
      // runts's defaults leave out: a devices cgroup below ours can only allow what ours does.
      s.linux.resources = {
        ...s.linux.resources,
        devices: [
          ...(s.linux.resources?.devices ?? []),
          { allow: true, type: "c", major: 5, minor: 1, access: "rwm" },
        ],
      };
      const dirOpts = ["nosuid", "nodev"];
      s.mounts.push(
        {
          destination: "/sys/fs/cgroup",
          type: "cgroup",
          source: "cgroup",
          options: ["nosuid", "noexec", "nodev", "rw"],
        },
        { destination: "/run", type: "tmpfs", source: "tmpfs", options: dirOpts },
        { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: dirOpts },
        ...binds.map(([source, destination]) => ({
          destination,
          type: "bind",
          source,
          options: ["rbind", "ro"],
        })),
      );
    },
  });
  const sh = async (cmd: string) => {
    const r = await runts(["exec", id, "sh", "-c", cmd], { root });
    return { ...r, out: r.stdout.trim() };
  };
  const box: SystemdBox = {
    id,
    share,
    sh,
    async stop() {
      await runts(["kill", id, "KILL"], { root });
      for (let i = 0; i < 50; i++) {
        if ((await runts(["delete", "--force", id], { root })).code === 0) break;
        await sleep(100);
      }
      await bundle.cleanup();
      await Deno.remove(share, { recursive: true }).catch(() => {});
      assertEquals([...Deno.readDirSync(root)].map((e) => e.name), [], "state left");
      // systemd's own tree inside (system.slice, init.scope...) went with the container's cgroup.
      const left = ["memory", "pids", "systemd", "unified"].map((c) =>
        `/sys/fs/cgroup/${c}/runts/${id}`
      )
        .filter(exists);
      assertEquals(left, [], "host cgroups left");
    },
  };
  // Detached: its stdio is a file, never a pipe of this test.
  const log = `${share}/boot.log`;
  const boot = await new Deno.Command("sh", {
    args: [
      "-c",
      `"${REPO}/bin/runts" --root "${root}" run -d -b "${bundle.dir}" ${id} </dev/null >"${log}" 2>&1`,
    ],
  }).output();
  if (boot.code !== 0) {
    await box.stop();
    throw new Error(`booting systemd: ${Deno.readTextFileSync(log)}`);
  }
  const started = Date.now();
  let state = "";
  for (const deadline = started + (o.bootTimeoutMs ?? 60_000); Date.now() < deadline;) {
    state = (await sh("systemctl is-system-running 2>/dev/null")).out;
    if (state === "running" || state === "degraded") break;
    await sleep(100);
  }
  if (state !== "running" && state !== "degraded") {
    const failed = (await sh("systemctl --failed --no-pager")).out;
    await box.stop();
    assert(false, `systemd did not boot: ${state}\n${failed}`);
  }
  console.error(`systemd up in ${Date.now() - started} ms (${state})`);
  return box;
}

/** `systemctl show` output as a map (repeated keys joined with "; "). */
export function showMap(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) {
      const k = line.slice(0, i);
      out[k] = out[k] === undefined ? line.slice(i + 1) : `${out[k]}; ${line.slice(i + 1)}`;
    }
  }
  return out;
}
