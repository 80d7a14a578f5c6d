/**
 * runts as a real non-root user (rootless): a user made with useradd runs bin/runts through
 * setpriv with its own XDG_RUNTIME_DIR, on bundles from `runts spec --rootless`.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../assert.ts";
import {
  createTestUser,
  processesOf,
  rootlessBundle,
  rootlessUnavailable,
  runAs,
  runtsAs,
  type TestUser,
} from "./_rootless.ts";
import { exists, loggedInitPlan, PYTHON } from "./_helpers.ts";
import { smallestHugePage } from "./cgroup_host.ts";

const why = rootlessUnavailable();
if (why !== undefined) console.error(`rootless_test: skipped: ${why}`);
const ignore = why !== undefined;

let user: TestUser | undefined;
async function theUser(): Promise<TestUser> {
  return user ??= await createTestUser();
}
globalThis.addEventListener("unload", () => {
  if (user === undefined) return;
  new Deno.Command("/usr/sbin/userdel", { args: ["-r", user.name], stderr: "null" }).outputSync();
  for (const f of ["/etc/subuid", "/etc/subgid"]) {
    try {
      const t = Deno.readTextFileSync(f);
      Deno.writeTextFileSync(
        f,
        t.split("\n").filter((l) => !l.startsWith(`${user!.name}:`)).join("\n"),
      );
    } catch {
      // gone
    }
  }
  try {
    Deno.removeSync(user.xdg, { recursive: true });
  } catch {
    // gone
  }
});

function stateDirs(u: TestUser): string[] {
  try {
    return [...Deno.readDirSync(`${u.xdg}/runts`)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

async function assertNothingLeft(u: TestUser): Promise<void> {
  assertEquals(stateDirs(u), [], "state directories left");
  assertEquals(await processesOf(u), [], "processes left");
}

const sanitize = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "runts spec --rootless as a user writes what runc spec --rootless writes",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    let runc = true;
    try {
      Deno.statSync("/usr/sbin/runc");
    } catch {
      runc = false;
    }
    const dir = await Deno.makeTempDir({ prefix: "runts-rl-spec-" });
    await Deno.chown(dir, u.uid, u.gid);
    try {
      const r = await runtsAs(u, ["spec", "--rootless", "--bundle", dir]);
      assertEquals(r, { code: 0, stdout: "", stderr: "" });
      const ours = await Deno.readTextFile(`${dir}/config.json`);
      const spec = JSON.parse(ours);
      assertEquals(spec.linux.uidMappings, [{ containerID: 0, hostID: u.uid, size: 1 }]);
      assertEquals(spec.linux.gidMappings, [{ containerID: 0, hostID: u.gid, size: 1 }]);
      if (!runc) {
        console.error("runc not installed: byte comparison skipped");
        return;
      }
      await Deno.remove(`${dir}/config.json`);
      const rr = await runAs(u, ["/usr/sbin/runc", "spec", "--rootless", "--bundle", dir]);
      assertEquals(rr.code, 0, rr.stderr);
      const theirs = await Deno.readTextFile(`${dir}/config.json`);
      // Debian's runc is 1.1: bring its document to runc 1.2's as the unit test of
      // defaultSpec() does (ociVersion, no ambient capabilities, /sys/devices/virtual/tpm masked).
      const doc = JSON.parse(theirs);
      doc.ociVersion = spec.ociVersion;
      doc.hostname = "runts"; // the one intended difference
      delete doc.process.capabilities.ambient;
      if (!doc.linux.maskedPaths.includes("/sys/devices/virtual/tpm")) {
        doc.linux.maskedPaths.push("/sys/devices/virtual/tpm");
      }
      assertEquals(ours, JSON.stringify(doc, null, "\t") + "\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "run as a user: output, exit code, XDG_RUNTIME_DIR/runts made 0700, nothing left",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const b = await rootlessBundle(u, ["sh", "-c", "id -u; cat /proc/self/uid_map; exit 3"]);
    try {
      const r = await runtsAs(u, ["--debug", "run", "-b", b.dir, `rl-run-${Deno.pid}`]);
      assertEquals(r.code, 3, r.stderr);
      assertEquals(r.stdout.split("\n")[0], "0");
      assertMatch(r.stdout, new RegExp(`^\\s+0\\s+${u.uid}\\s+1$`, "m"));
      // No cgroup was asked for and none can be made: said with --debug.
      assertStringIncludes(
        r.stderr,
        'level=debug msg="rootless: running without a cgroup of its own',
      );
      const st = Deno.statSync(`${u.xdg}/runts`);
      assertEquals(st.mode! & 0o777, 0o700);
      assertEquals(st.uid, u.uid);
      await assertNothingLeft(u);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "debug plan as a user prints the program a create by that user runs",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const id = `rl-plan-${Deno.pid}`;
    const b = await rootlessBundle(u, ["sleep", "1000"]);
    try {
      const plan = await runtsAs(u, ["debug", "plan", b.dir]);
      assertEquals([plan.code, plan.stderr], [0, ""]);
      const printed = plan.stdout.trimEnd().split("\n").filter((l) => !l.startsWith("# "));
      const c = await runtsAs(u, ["--debug", "create", "-b", b.dir, id]);
      assertEquals(c.code, 0, c.stderr);
      const ran = loggedInitPlan(`${u.xdg}/runts/${id}/sandbox.log`);
      assertEquals(printed, ran);
      assert(ran.length > 100, `${ran.length} steps`);
    } finally {
      await runtsAs(u, ["delete", "--force", id]);
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "create, state, start, list, ps, exec, exec -d, pause, kill, delete as a user",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const id = `rl-life-${Deno.pid}`;
    const b = await rootlessBundle(u, ["sleep", "1000"]);
    try {
      let r = await runtsAs(u, ["create", "-b", b.dir, id]);
      assertEquals(r.code, 0, r.stderr);
      r = await runtsAs(u, ["state", id]);
      const created = JSON.parse(r.stdout);
      assertEquals(created.status, "created");
      // The sandbox process runs as the user.
      const boot = (await processesOf(u)).filter((p) => p.includes(" boot "));
      // (the created init, a clone of it blocked before execve, shows the same command line)
      assert(boot.length >= 1, "no sandbox process of the user");
      r = await runtsAs(u, ["start", id]);
      assertEquals(r.code, 0, r.stderr);
      r = await runtsAs(u, ["list", "-q"]);
      assertEquals(r.stdout.trim(), id);
      r = await runtsAs(u, ["ps", "--format", "json", id]);
      assertEquals(JSON.parse(r.stdout), [created.pid]);
      // exec: inside the container's pid namespace, as root of the user namespace.
      r = await runtsAs(u, ["exec", id, "sh", "-c", "cat /proc/1/cmdline; echo; id -u; exit 5"]);
      assertEquals(r.code, 5, r.stderr);
      assertEquals(r.stdout, "sleep\u00001000\u0000\n0\n");
      r = await runtsAs(u, ["exec", "-d", id, "sleep", "999"]);
      assertEquals(r.code, 0, r.stderr);
      r = await runtsAs(u, ["ps", "--format", "json", id]);
      assertEquals((JSON.parse(r.stdout) as number[]).length, 2);
      // No cgroup of its own (none delegated): pausing is refused with the reason.
      r = await runtsAs(u, ["pause", id]);
      assertEquals(r.code, 1);
      assertEquals(r.stderr, `runts: container "${id}" has no cgroup\n`);
      r = await runtsAs(u, ["kill", id, "KILL"]);
      assertEquals(r.code, 0, r.stderr);
      r = await runtsAs(u, ["delete", "--force", id]);
      assertEquals(r.code, 0, r.stderr);
      await assertNothingLeft(u);
    } finally {
      await runtsAs(u, ["delete", "--force", id]);
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "features works as a user without XDG_RUNTIME_DIR; state commands name the variable",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const env = { PATH: "/usr/bin:/bin", HOME: `/home/${u.name}` };
    let r = await runtsAs(u, ["features"], { env });
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).ociVersionMax, "1.2.0");
    r = await runtsAs(u, ["list"], { env });
    assertEquals(r.code, 1);
    assertEquals(
      r.stderr,
      `runts: XDG_RUNTIME_DIR is not set: a non-root user (uid ${u.uid}) keeps container state in $XDG_RUNTIME_DIR/runts; set it or give --root DIR\n`,
    );
  },
});

Deno.test({
  name: "bad input as a user: another user's state dir, a mapping not owned, an unreadable bundle",
  ignore,
  ...sanitize,
  async fn(t) {
    const u = await theUser();
    await t.step("state directory owned by root", async () => {
      const root = await Deno.makeTempDir({ prefix: "runts-rl-root-" });
      await Deno.chmod(root, 0o755);
      try {
        const r = await runtsAs(u, ["--root", root, "list"]);
        assertEquals(r.code, 1);
        assertEquals(
          r.stderr,
          `runts: state directory "${root}" is owned by uid 0, not by the caller (uid ${u.uid}); use your own --root\n`,
        );
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    });
    await t.step("uid mapping of host root", async () => {
      const b = await rootlessBundle(u, ["true"], (s) => {
        s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
      });
      try {
        const r = await runtsAs(u, ["run", "-b", b.dir, `rl-map-${Deno.pid}`]);
        assertEquals(r.code, 1);
        assertEquals(
          r.stderr,
          `runts: linux.uidMappings[0]: host ids 0-0 are not the caller's (${u.uid}) and not in its /etc/subuid ranges (${u.subStart}-${
            u.subStart + u.subSize - 1
          })\n`,
        );
        await assertNothingLeft(u);
      } finally {
        await b.cleanup();
      }
    });
    await t.step("bundle the user cannot read", async () => {
      const b = await rootlessBundle(u, ["true"]);
      await Deno.chmod(b.dir, 0o700);
      try {
        const r = await runtsAs(u, ["run", "-b", b.dir, `rl-unread-${Deno.pid}`]);
        assertEquals(r.code, 1);
        assertEquals(r.stderr.split("\n").length, 2, r.stderr);
        assertStringIncludes(
          r.stderr,
          `runts: bundle "${b.dir}": reading config.json: Permission denied`,
        );
        await assertNothingLeft(u);
      } finally {
        await b.cleanup();
      }
    });
  },
});

Deno.test({
  name: "subordinate ids from /etc/subuid,subgid are mapped through newuidmap and newgidmap",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const b = await rootlessBundle(
      u,
      [
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; touch /tmp/f; chown 1000:1000 /tmp/f && stat -c %u:%g /tmp/f",
      ],
      (s) => {
        s.linux!.uidMappings = [
          { containerID: 0, hostID: u.uid, size: 1 },
          { containerID: 1, hostID: u.subStart, size: 65536 },
        ];
        s.linux!.gidMappings = [
          { containerID: 0, hostID: u.gid, size: 1 },
          { containerID: 1, hostID: u.subStart, size: 65536 },
        ];
        s.mounts!.push({
          destination: "/tmp",
          type: "tmpfs",
          source: "tmpfs",
          options: ["nosuid"],
        });
        const c = s.process!.capabilities!;
        for (const k of ["bounding", "effective", "permitted"] as const) c[k]!.push("CAP_CHOWN");
      },
    );
    try {
      const r = await runtsAs(u, ["run", "-b", b.dir, `rl-sub-${Deno.pid}`]);
      assertEquals(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));
      assertEquals(lines, [
        `0 ${u.uid} 1`,
        `1 ${u.subStart} 65536`,
        `0 ${u.gid} 1`,
        `1 ${u.subStart} 65536`,
        "1000:1000",
      ]);
      await assertNothingLeft(u);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "isolation as a user: masked and read-only paths, seccomp, no_new_privs, capabilities",
  ignore,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const script = [
      "wc -c < /proc/timer_list",
      "ls /sys/firmware | wc -l",
      // The mount's own flags: a write would fail anyway (host root is unmapped here).
      "awk '$5==\"/proc/sys\"{print $6}' /proc/self/mountinfo | cut -d, -f1",
      "mkdir /tmp/d 2>&1 | sed 's/.*: //'",
      "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status",
    ].join("; ");
    const b = await rootlessBundle(u, ["sh", "-c", script], (s) => {
      s.mounts!.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid"] });
      s.linux!.seccomp = {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
      };
    });
    try {
      const r = await runtsAs(u, ["run", "-b", b.dir, `rl-iso-${Deno.pid}`]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.split("\n").map((l) => l.replace(/\s+/g, " ").trim()), [
        "0", // /proc/timer_list masked by /dev/null
        "0", // /sys/firmware masked by an empty read-only tmpfs
        "ro", // /proc/sys bound read-only
        "Operation not permitted", // seccomp's errnoRet 1
        // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE only
        "CapEff: 0000000020000420",
        "CapBnd: 0000000020000420",
        "NoNewPrivs: 1",
        "Seccomp: 2",
        "",
      ]);
      await assertNothingLeft(u);
    } finally {
      await b.cleanup();
    }
  },
});

/** A cgroup2 directory handed to the user, as systemd delegates user@.service. */
function delegate(u: TestUser, dir: string): void {
  Deno.mkdirSync(dir);
  for (const f of ["", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"]) {
    Deno.chownSync(f === "" ? dir : `${dir}/${f}`, u.uid, u.gid);
  }
}

const UNIFIED = (() => {
  for (const p of ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]) {
    try {
      if (Deno.statSync(`${p}/cgroup.subtree_control`).isFile) return p;
    } catch {
      // not cgroup2
    }
  }
  return undefined;
})();
if (UNIFIED === undefined) console.log("no cgroup2 hierarchy: the rootless cgroup test is ignored");

Deno.test({
  name:
    "cgroups as a user: limits without a delegated cgroup are refused; with one they apply, pause works",
  ignore: ignore || UNIFIED === undefined,
  ...sanitize,
  async fn(t) {
    const u = await theUser();
    // The delegated subtree gets hugetlb only if the root enables it for its children: done
    // here as root (as a root runts does), not left to what an earlier run set.
    const page = smallestHugePage();
    let hugetlb = page !== undefined &&
      Deno.readTextFileSync(`${UNIFIED}/cgroup.controllers`).split(/\s+/).includes("hugetlb");
    if (hugetlb) {
      try {
        Deno.writeTextFileSync(`${UNIFIED}/cgroup.subtree_control`, "+hugetlb");
      } catch {
        hugetlb = false; // the root cannot hand it down here
      }
    }
    await t.step("limits and nothing delegated: a clear error, nothing left", async () => {
      const b = await rootlessBundle(u, ["true"], (s) => {
        s.linux!.resources = { pids: { limit: 10 } };
      });
      try {
        const r = await runtsAs(u, ["run", "-b", b.dir, `rl-cg-${Deno.pid}`]);
        assertEquals(r.code, 1);
        assertMatch(
          r.stderr,
          /^runts: linux\.resources: rootless: pids requested, but ".*" \(for ".*\/runts\/rl-cg-\d+"\) is not delegated to uid \d+ \(give a writable cgroup v2 subtree: the caller's own cgroup or linux\.cgroupsPath\)\n$/,
        );
        await assertNothingLeft(u);
      } finally {
        await b.cleanup();
      }
    });
    if (!hugetlb) {
      console.log(`no hugetlb for ${UNIFIED}'s children: the delegated limit case is skipped`);
      return;
    }
    await t.step(
      "a delegated cgroup2 subtree: hugetlb limit applied, pause and resume",
      async () => {
        const name = `runts-rl-${u.name}`;
        const deleg = `${UNIFIED}/${name}`;
        delegate(u, deleg);
        const id = `rl-cgd-${Deno.pid}`;
        const b = await rootlessBundle(u, ["sleep", "1000"], (s) => {
          s.linux!.cgroupsPath = `/${name}/ctr`;
          s.linux!.resources = {
            hugepageLimits: [{ pageSize: page!.name, limit: 4 * page!.bytes }],
          };
        });
        // The user's commands start inside the subtree (its own leaf), as under systemd.
        Deno.mkdirSync(`${deleg}/self`);
        Deno.chownSync(`${deleg}/self/cgroup.procs`, u.uid, u.gid);
        const procs = `${deleg}/self/cgroup.procs`;
        try {
          let r = await runtsAs(u, ["create", "-b", b.dir, id], { cgroupProcs: procs });
          assertEquals(r.code, 0, r.stderr);
          assertEquals(
            Deno.readTextFileSync(`${deleg}/ctr/hugetlb.${page!.name}.max`).trim(),
            String(4 * page!.bytes),
          );
          const pid =
            JSON.parse((await runtsAs(u, ["state", id], { cgroupProcs: procs })).stdout).pid;
          assertEquals(
            Deno.readTextFileSync(`/proc/${pid}/cgroup`).split("\n").find((l) =>
              l.startsWith("0::")
            ),
            `0::/${name}/ctr`,
          );
          r = await runtsAs(u, ["start", id], { cgroupProcs: procs });
          assertEquals(r.code, 0, r.stderr);
          r = await runtsAs(u, ["pause", id], { cgroupProcs: procs });
          assertEquals(r.code, 0, r.stderr);
          assertEquals(Deno.readTextFileSync(`${deleg}/ctr/cgroup.freeze`).trim(), "1");
          r = await runtsAs(u, ["state", id], { cgroupProcs: procs });
          assertEquals(JSON.parse(r.stdout).status, "paused");
          r = await runtsAs(u, ["resume", id], { cgroupProcs: procs });
          assertEquals(r.code, 0, r.stderr);
          assertEquals(Deno.readTextFileSync(`${deleg}/ctr/cgroup.freeze`).trim(), "0");
          r = await runtsAs(u, ["delete", "--force", id], { cgroupProcs: procs });
          assertEquals(r.code, 0, r.stderr);
          assert(!exists(`${deleg}/ctr`), "the container's cgroup is removed");
          await assertNothingLeft(u);
        } finally {
          await runtsAs(u, ["delete", "--force", id], { cgroupProcs: procs });
          await b.cleanup();
          for (const d of [`${deleg}/ctr`, `${deleg}/self`, deleg]) {
            try {
              Deno.removeSync(d);
            } catch {
              // not there
            }
          }
        }
      },
    );
  },
});

/** Connects to a control socket with the given euid (fsuid 0 passes the 0700 dirs) and asks. */
const PEER = `
import ctypes, json, os, socket, sys
path, cid, uid = sys.argv[1], sys.argv[2], int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
os.setgroups([])
os.setresgid(uid, uid, 0)
os.setresuid(uid, uid, 0)
libc.setfsgid(0)
libc.setfsuid(0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.settimeout(10)
s.connect(path)
try:
    s.send(json.dumps({"id": 1, "method": "containerManager.Processes", "arg": {"id": cid}}).encode())
    print("reply" if s.recv(1 << 16) else "closed", flush=True)
except OSError as e:
    print("closed", type(e).__name__, flush=True)
`;

Deno.test({
  name:
    "a user's sandbox: state 0700 and socket 0600 owned by it; the socket answers it, refuses others",
  ignore: ignore || PYTHON === undefined,
  ...sanitize,
  async fn() {
    const u = await theUser();
    const id = `rl-sock-${Deno.pid}`;
    const b = await rootlessBundle(u, ["sleep", "1000"]);
    try {
      const r = await runtsAs(u, ["create", "-b", b.dir, id]);
      assertEquals(r.code, 0, r.stderr);
      const dir = `${u.xdg}/runts/${id}`;
      const sock = `${dir}/sock`;
      for (const [p, mode] of [[`${u.xdg}/runts`, 0o700], [dir, 0o700], [sock, 0o600]] as const) {
        const st = Deno.lstatSync(p);
        assertEquals([st.uid, st.mode! & 0o7777], [u.uid, mode], p);
      }
      const peer = async (uid: number) => {
        const o = await new Deno.Command(PYTHON!, { args: ["-c", PEER, sock, id, String(uid)] })
          .output();
        return new TextDecoder().decode(o.stdout).trim();
      };
      assertEquals(await peer(u.uid), "reply");
      assertEquals((await peer(65534)).split(" ")[0], "closed");
      assertEquals(await peer(0), "reply");
      assertEquals((await runtsAs(u, ["delete", "--force", id])).code, 0);
      await assertNothingLeft(u);
    } finally {
      await runtsAs(u, ["delete", "--force", id]);
      await b.cleanup();
    }
  },
});
