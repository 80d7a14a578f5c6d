/**
 * The systemd cgroup driver (`--systemd-cgroup`) against a real systemd. This host's PID 1 is
 * not systemd, so the test brings one: a Debian bookworm rootfs with systemd (built once by
 * scripts/systemd_rootfs.sh with debootstrap, cached under build/) booted as PID 1 in a container
 * that runts runs (cgroup namespace, a read-write cgroup mount, Docker's capabilities plus
 * CAP_SYS_ADMIN, tmpfs on /run). runts itself runs inside it (the worktree, the Deno binary and
 * the busybox rootfs bound read-only) with `--systemd-cgroup`, and `systemctl show` of the scope
 * plus the cgroup files show a scope created, limited, frozen, updated and removed; runc
 * `--systemd-cgroup` on the same bundle gives the same unit properties.
 *
 * Never bind the host's /sys/fs/cgroup into that container: its systemd would then write into
 * the host's cgroup tree.
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { baseSpec, leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";
import { bootSystemd, IN, RUNTS_IN, showMap, systemdRootfs } from "./_systemd.ts";

const isRoot = Deno.uid() === 0;
const opts = { sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };
const rand = () => crypto.randomUUID().slice(0, 8);
const exists = (p: string) => {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

const SYSTEM_BUS = "/run/dbus/system_bus_socket";

Deno.test({
  name: "--systemd-cgroup without a reachable systemd names the D-Bus socket and leaves nothing",
  ignore: !isRoot || exists(SYSTEM_BUS),
  ...opts,
  async fn() {
    const root = await newRoot();
    const id = `sd-nobus-${rand()}`;
    const b = await makeBundle({
      args: ["true"],
      mutate: (s) => {
        s.linux.cgroupsPath = `system.slice:runts:${id}`;
      },
    });
    try {
      const r = await runts(["--systemd-cgroup", "run", "-b", b.dir, id], { root });
      assertEquals(r.code, 1);
      assertStringIncludes(
        r.stderr,
        `systemd cgroup driver (--systemd-cgroup): cannot connect to D-Bus at ` +
          `"unix:path=${SYSTEM_BUS}": ENOENT (No such file or directory)`,
      );
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertEquals(await leftovers(root), NOTHING);
      const stray = ["memory", "pids", "unified"].map((c) => `/sys/fs/cgroup/${c}/system.slice`)
        .filter((d) => exists(`${d}/runts-${id}.scope`));
      assertEquals(stray, []);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "--systemd-cgroup: a slice:prefix:name path that is not a slice is refused",
  ignore: !isRoot,
  ...opts,
  async fn() {
    const root = await newRoot();
    const id = `sd-bad-${rand()}`;
    const b = await makeBundle({
      args: ["true"],
      mutate: (s) => {
        s.linux.cgroupsPath = `system:runts:${id}`;
      },
    });
    try {
      const r = await runts(["--systemd-cgroup", "run", "-b", b.dir, id], { root });
      assertEquals(r.code, 1);
      assertStringIncludes(
        r.stderr,
        `linux.cgroupsPath: "system" is not a valid systemd slice name`,
      );
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
    }
  },
});

// --- a real systemd ---------------------------------------------------------------------------

const prepared = await systemdRootfs();
if ("skip" in prepared) console.error(`systemd_test: real-systemd tests skipped: ${prepared.skip}`);

/** The busybox bundle that runts and runc run inside systemd's container. */
function innerSpec(id: string): string {
  const s = baseSpec(["sleep", "1000"], IN.rootfs);
  s.root.readonly = true;
  // No CAP_NET_ADMIN in the systemd container: a new network namespace's lo could not go up.
  s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== "network");
  s.linux.cgroupsPath = `system.slice:runts:${id}`;
  s.linux.resources = {
    memory: { limit: 64 * 1024 * 1024 },
    pids: { limit: 20 },
    cpu: { shares: 512, quota: 50_000, period: 100_000 },
  };
  return JSON.stringify(s);
}

const COMPARED = [
  "Slice",
  "ControlGroup",
  "Delegate",
  "DefaultDependencies",
  "MemoryLimit",
  "MemoryMax",
  "TasksMax",
  "CPUShares",
  "CPUWeight",
  "CPUQuotaPerSecUSec",
  "DevicePolicy",
];

Deno.test({
  name: "--systemd-cgroup under a real systemd: scope created, limited, frozen, updated, removed",
  ignore: "skip" in prepared,
  ...opts,
  async fn(t) {
    if ("skip" in prepared) return;
    const box = await bootSystemd({ rootfs: prepared.path, hostFiles: ["/usr/sbin/runc"] });
    const id = `c${rand()}`;
    const unit = `runts-${id}.scope`;
    Deno.mkdirSync(`${box.share}/bundle`);
    Deno.writeTextFileSync(`${box.share}/bundle/config.json`, innerSpec(id));
    const sh = box.sh;
    // runts inside: detached containers get a file as their stdio, never the exec's pipes.
    const inner = (args: string, log = "/tmp/inner.log") =>
      sh(
        `cd ${IN.share}/bundle && ${RUNTS_IN} --root /run/runts-test --systemd-cgroup ${args} ` +
          `</dev/null >${log} 2>&1; echo "rc=$?"; cat ${log}`,
      );
    const show = async () =>
      showMap(
        (await sh(
          `systemctl show ${unit} -p ${
            [...COMPARED, "ActiveState", "LoadState", "DeviceAllow"].join(" -p ")
          }`,
        )).out,
      );
    try {
      const v2 = (await sh("test -e /sys/fs/cgroup/cgroup.controllers && echo v2")).out === "v2";
      const file = (ctrl: string, f: string) =>
        v2
          ? `/sys/fs/cgroup/system.slice/${unit}/${f}`
          : `/sys/fs/cgroup/${ctrl}/system.slice/${unit}/${f}`;
      const cat = async (ctrl: string, f: string) => (await sh(`cat ${file(ctrl, f)}`)).out;
      const MEM = v2 ? "MemoryMax" : "MemoryLimit";

      let runtsProps: Record<string, string> = {};
      await t.step("run -d creates the scope with the init in it and the limits", async () => {
        const r = await inner(`run -d ${id}`);
        assertEquals(r.out, "rc=0");
        const p = await show();
        runtsProps = p;
        assertEquals(p.ActiveState, "active");
        assertEquals(p.ControlGroup, `/system.slice/${unit}`);
        assertEquals(p.Slice, "system.slice");
        assertEquals(p.Delegate, "yes");
        assertEquals(p[MEM], String(64 * 1024 * 1024));
        assertEquals(p.TasksMax, "20");
        assertEquals(p.CPUQuotaPerSecUSec, "500ms");
        assertEquals(p.DevicePolicy, "strict");
        assertEquals(await cat("memory", v2 ? "memory.max" : "memory.limit_in_bytes"), "67108864");
        assertEquals(await cat("pids", "pids.max"), "20");
        const pid = JSON.parse((await inner(`state ${id}`)).out.replace(/^rc=0\n/, "")).pid;
        assertEquals(await cat("pids", "cgroup.procs"), String(pid));
        // a controller systemd does not manage on v1 is joined through its files
        if (!v2) assertEquals(await cat("freezer", "cgroup.procs"), String(pid));
      });

      await t.step(
        "a second container on the same unit is refused, the first left alone",
        async () => {
          const r = await inner(`run -d ${id}x`);
          assertEquals(r.out.split("\n")[0], "rc=1");
          assertStringIncludes(r.out, `systemd unit "${unit}" already exists and is active`);
          assertEquals((await show()).ActiveState, "active");
          assertStringIncludes((await inner(`state ${id}`)).out, `"status": "running"`);
          assertStringIncludes((await inner(`list -q`)).out, "rc=0");
          assert(
            !(await inner(`list -q`)).out.includes(`${id}x`),
            "nothing left of the refused one",
          );
        },
      );

      await t.step("exec joins the scope's cgroup", async () => {
        const r = await inner(`exec ${id} cat /proc/self/cgroup`);
        const lines = r.out.split("\n").filter((l) => /^\d+:/.test(l));
        assert(lines.length > 0, r.out);
        for (const l of lines) assert(l.endsWith(`:/system.slice/${unit}`), l);
      });

      await t.step("pause freezes and resume thaws the scope", async () => {
        assertEquals((await inner(`pause ${id}`)).out, "rc=0");
        assertEquals(
          await cat("freezer", v2 ? "cgroup.freeze" : "freezer.state"),
          v2 ? "1" : "FROZEN",
        );
        assertStringIncludes((await inner(`state ${id}`)).out, `"status": "paused"`);
        assertEquals((await inner(`resume ${id}`)).out, "rc=0");
        assertEquals(
          await cat("freezer", v2 ? "cgroup.freeze" : "freezer.state"),
          v2 ? "0" : "THAWED",
        );
      });

      await t.step("update sets the unit properties and the files", async () => {
        assertEquals((await inner(`update --memory 128m --pids-limit 30 ${id}`)).out, "rc=0");
        const p = await show();
        assertEquals(p[MEM], String(128 * 1024 * 1024));
        assertEquals(p.TasksMax, "30");
        assertEquals(await cat("memory", v2 ? "memory.max" : "memory.limit_in_bytes"), "134217728");
        assertEquals(await cat("pids", "pids.max"), "30");
      });

      await t.step("events --stats and ps read the scope", async () => {
        const ev = (await inner(`events --stats ${id}`)).out.split("\n")[1]!;
        const data = JSON.parse(ev).data;
        assertEquals(data.pids.limit, 30);
        assertEquals(data.memory.usage.limit, 134217728);
        const ps = (await inner(`ps --format json ${id}`)).out.split("\n")[1]!;
        const pid = JSON.parse((await inner(`state ${id}`)).out.replace(/^rc=0\n/, "")).pid;
        assertEquals(JSON.parse(ps), [pid]);
      });

      await t.step("kill and delete stop the unit and remove its cgroups", async () => {
        assertEquals((await inner(`kill ${id} KILL`)).out, "rc=0");
        assertEquals((await inner(`delete --force ${id}`)).out, "rc=0");
        const p = await show();
        assertEquals(p.LoadState, "not-found");
        assertEquals(
          (await sh(
            `ls -d /sys/fs/cgroup/*/system.slice/${unit} /sys/fs/cgroup/system.slice/${unit} 2>/dev/null`,
          )).out,
          "",
        );
      });

      await t.step("slice names: empty, nested and the root slice", async (t2) => {
        const cases: [string, string][] = [
          [`:x:${id}`, `/system.slice/x-${id}.scope`],
          [`runts-test.slice:x:${id}`, `/runts.slice/runts-test.slice/x-${id}.scope`],
          [`-.slice::${id}`, `/${id}.scope`],
        ];
        for (const [path, cgroup] of cases) {
          await t2.step(path, async () => {
            const spec = JSON.parse(innerSpec(id));
            spec.linux.cgroupsPath = path;
            spec.process.args = ["cat", "/proc/self/cgroup"];
            await sh(
              `mkdir -p /tmp/b2 && cat > /tmp/b2/config.json <<'EOF'\n${JSON.stringify(spec)}\nEOF`,
            );
            const r = await sh(
              `cd /tmp/b2 && ${RUNTS_IN} --root /run/runts-test --systemd-cgroup run ${id}s`,
            );
            assertEquals(r.code, 0, r.stderr);
            assertStringIncludes(r.out, `0::${cgroup}`);
            const unitName = cgroup.split("/").pop()!;
            assertEquals(
              (await sh(`systemctl show ${unitName} -p LoadState`)).out,
              "LoadState=not-found",
            );
          });
        }
      });

      await t.step(
        "runc --systemd-cgroup on the same bundle sets the same unit properties",
        async () => {
          if (!exists("/usr/sbin/runc")) {
            console.error("systemd_test: no /usr/sbin/runc to compare with");
            return;
          }
          const r = await sh(
            `cd ${IN.share}/bundle && runc --systemd-cgroup run -d ${id} </dev/null >/tmp/runc.log 2>&1; echo "rc=$?"; cat /tmp/runc.log`,
          );
          assertEquals(r.out, "rc=0");
          const p = await show();
          await sh(
            `runc --systemd-cgroup kill ${id} KILL; sleep 0.2; runc --systemd-cgroup delete --force ${id}`,
          );
          const pick = (m: Record<string, string>) =>
            Object.fromEntries(COMPARED.filter((k) => k in m).map((k) => [k, m[k]]));
          assertEquals(pick(runtsProps), pick(p));
          // runts allows the same devices (in another order), and /dev/console (5:1) besides.
          const devices = (m: Record<string, string>) => new Set((m.DeviceAllow ?? "").split("; "));
          const mine = devices(runtsProps);
          assertEquals([...devices(p)].filter((d) => !mine.has(d)), []);
        },
      );
    } finally {
      await box.stop();
    }
  },
});
