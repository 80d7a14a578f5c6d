/**
 * Docker with `native.cgroupdriver=systemd` and runts as its runtime, under a real systemd: a
 * Debian bookworm rootfs with systemd and docker.io (scripts/systemd_rootfs.sh, cached under
 * build/) boots as PID 1 in a runts container (tests/integration/_systemd.ts, with CAP_NET_ADMIN
 * besides Docker's capabilities and CAP_SYS_ADMIN), where systemd starts dockerd with a
 * daemon.json registering runts (the worktree bound read-only, run by the bound Deno binary).
 * Docker passes `--systemd-cgroup` and `system.slice:docker:<id>`; the scope's unit properties and
 * cgroup files are checked through run, exec, pause, update, stats and rm, and compared with the
 * same container under runc.
 *
 * Containers use `--network host`: with `--network none`, Docker's libnetwork prestart hook fails
 * with "permission denied" under runts in this nested setup (it succeeds under runc); that hook
 * has nothing to do with cgroups.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { bootSystemd, showMap, systemdRootfs } from "../integration/_systemd.ts";

const prepared = await systemdRootfs("systemd-docker-rootfs", ["docker.io"]);
if ("skip" in prepared) console.error(`docker_systemd_test: skipped: ${prepared.skip}`);

const RUNTIME = `#!/bin/sh
DENO_DIR=/tmp/deno exec /usr/local/bin/deno run -A --no-config /runts/main.ts "$@"
`;
const DAEMON = {
  "exec-opts": ["native.cgroupdriver=systemd"],
  runtimes: { runts: { path: "/usr/local/bin/runts" } },
  "storage-driver": "vfs",
  iptables: false,
  ip6tables: false,
  "ip-forward": false,
  "ip-masq": false,
  bridge: "none",
  "userland-proxy": false,
};
const PROPS = [
  "ActiveState",
  "LoadState",
  "Slice",
  "ControlGroup",
  "Delegate",
  "MemoryLimit",
  "MemoryMax",
  "TasksMax",
  "CPUShares",
  "CPUWeight",
];

Deno.test({
  name: "docker native.cgroupdriver=systemd with --runtime=runts: the container is a systemd scope",
  ignore: "skip" in prepared,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if ("skip" in prepared) return;
    const files = await Deno.makeTempDir({ prefix: "runts-e2e-dockersd-" });
    Deno.writeTextFileSync(`${files}/runts`, RUNTIME, { mode: 0o755 });
    Deno.writeTextFileSync(`${files}/daemon.json`, JSON.stringify(DAEMON));
    const box = await bootSystemd({
      rootfs: prepared.path,
      extraCaps: ["CAP_NET_ADMIN"],
      binds: {
        [`${files}/runts`]: "/usr/local/bin/runts",
        [`${files}/daemon.json`]: "/etc/docker/daemon.json",
      },
    });
    const sh = box.sh;
    const ok = async (cmd: string) => {
      const r = await sh(cmd);
      assertEquals(r.code, 0, `${cmd}: ${r.stdout}${r.stderr}`);
      return r.out;
    };
    const show = async (unit: string) =>
      showMap(await ok(`systemctl show ${unit} -p ${PROPS.join(" -p ")}`));
    try {
      assertEquals(await ok(`docker info --format '{{.CgroupDriver}}'`), "systemd");
      await ok("tar -C /busybox -c . | docker import - busybox-runts >/dev/null");
      const runArgs =
        "--network host -m 64m --memory-swap 128m --pids-limit 20 --cpu-shares 512 busybox-runts";
      let id = "";
      let unit = "";
      let dockerProps: Record<string, string> = {};
      const cg = (ctrl: string, f: string) => `/sys/fs/cgroup/${ctrl}/system.slice/${unit}/${f}`;

      await t.step("docker run: a scope with the limits", async () => {
        id = await ok(`docker run -d --runtime runts --name web ${runArgs} sleep 1000`);
        assert(/^[0-9a-f]{64}$/.test(id), id);
        unit = `docker-${id}.scope`;
        dockerProps = await show(unit);
        assertEquals(dockerProps.ActiveState, "active");
        assertEquals(dockerProps.ControlGroup, `/system.slice/${unit}`);
        assertEquals(dockerProps.Delegate, "yes");
        assertEquals(dockerProps.MemoryLimit, String(64 * 1024 * 1024));
        assertEquals(dockerProps.TasksMax, "20");
        assertEquals(dockerProps.CPUShares, "512");
        assertEquals(await ok(`cat ${cg("memory", "memory.limit_in_bytes")}`), "67108864");
        assertEquals(await ok(`cat ${cg("pids", "pids.max")}`), "20");
      });

      await t.step("docker exec joins the scope", async () => {
        const out = await ok("docker exec web cat /proc/self/cgroup");
        for (const l of out.split("\n")) assert(l.endsWith(`:/system.slice/${unit}`), l);
      });

      await t.step("docker pause / unpause freeze and thaw it", async () => {
        await ok("docker pause web");
        assertEquals(await ok(`cat ${cg("freezer", "freezer.state")}`), "FROZEN");
        await ok("docker unpause web");
        assertEquals(await ok(`cat ${cg("freezer", "freezer.state")}`), "THAWED");
      });

      await t.step("docker update changes the unit and the files; stats reads them", async () => {
        await ok("docker update -m 100m --memory-swap 200m --pids-limit 30 web");
        const p = await show(unit);
        assertEquals(p.MemoryLimit, String(100 * 1024 * 1024));
        assertEquals(p.TasksMax, "30");
        assertEquals(await ok(`cat ${cg("pids", "pids.max")}`), "30");
        assertStringIncludes(
          await ok("docker stats --no-stream --format '{{.MemUsage}}' web"),
          "/ 100MiB",
        );
      });

      await t.step("docker rm -f removes the unit and its cgroups", async () => {
        await ok("docker rm -f web");
        assertEquals((await show(unit)).LoadState, "not-found");
        assertEquals((await sh(`ls -d /sys/fs/cgroup/*/system.slice/${unit} 2>/dev/null`)).out, "");
      });

      await t.step("the same container under runc has the same unit properties", async () => {
        const rid = await ok(`docker run -d --runtime runc --name ref ${runArgs} sleep 1000`);
        const p = await show(`docker-${rid}.scope`);
        await ok("docker rm -f ref");
        const same = (m: Record<string, string>, scope: string) =>
          Object.fromEntries(
            PROPS.map((k) => [k, (m[k] ?? "").replaceAll(scope, "docker-ID.scope")]),
          );
        assertEquals(same(dockerProps, unit), same(p, `docker-${rid}.scope`));
      });
    } finally {
      await box.stop();
      await Deno.remove(files, { recursive: true }).catch(() => {});
    }
  },
});
