/**
 * The container's filesystem: bind and tmpfs mounts and their options, propagation, a read-only
 * root, --no-pivot, /dev (default and extra devices, the standard symlinks), masked and
 * read-only paths, and mount targets that are symlinks pointing out of the rootfs.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import {
  type BundleSpec,
  leftovers,
  makeBundle,
  newRoot,
  ROOTFS,
  runSh,
  runts,
} from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };

const NOTHING = { dirs: [], mounts: [], processes: [] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `sh -c script` in a container (spec changed by mutate; a rootfs copy with copy). */
const sh = (
  id: string,
  script: string,
  mutate?: (s: BundleSpec) => void,
  copyRootfs = false,
): Promise<Run> => runSh(root, id, script, { mutate, copyRootfs });

/** Runs a command on the host; throws on failure. */
async function host(cmd: string, ...args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  const dec = new TextDecoder();
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")}: ${dec.decode(o.stderr)}`);
  return dec.decode(o.stdout);
}

/** Mount points (field 5) of the host's /proc/self/mountinfo lines that start with prefix. */
async function hostMountsUnder(prefix: string): Promise<string[]> {
  const info = await Deno.readTextFile("/proc/self/mountinfo");
  return info.split("\n").map((l) => l.split(" ")[4] ?? "").filter((p) =>
    p === prefix || p.startsWith(prefix + "/")
  );
}

/** The mountinfo line (from text) whose mount point is `point`. */
function mountLine(info: string, point: string): string {
  const line = info.split("\n").find((l) => l.split(" ")[4] === point);
  assert(line !== undefined, `no mount on ${point} in:\n${info}`);
  return line;
}

function stateOf(out: string): { status: string; pid: number } {
  return JSON.parse(out);
}

Deno.test({
  name: "runts run: bind mounts of host directories: ro refuses writes, rbind keeps submounts",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-hostdir-" });
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/f`, "hostdata\n");
    await host("mount", "-t", "tmpfs", "runts-sub", `${dir}/sub`);
    try {
      await Deno.writeTextFile(`${dir}/sub/g`, "inner\n");
      const r = await sh(
        "rootfs-bind",
        [
          "cat /ro/f",
          "echo changed > /ro/f",
          "cat /rb/sub/g",
          "ls -A /nb/sub | wc -l",
          "echo from-container > /rb/new",
          "grep -E ' /(ro|rb|nb)(/sub)? ' /proc/self/mountinfo | cut -d' ' -f5,6",
        ].join("; "),
        (s) => {
          s.mounts.push(
            { destination: "/ro", type: "bind", source: dir, options: ["bind", "ro"] },
            { destination: "/rb", type: "bind", source: dir, options: ["rbind"] },
            { destination: "/nb", type: "bind", source: dir, options: ["bind"] },
          );
        },
        true,
      );
      assertEquals(r.stderr, "sh: can't create /ro/f: Read-only file system\n");
      assertEquals(r.stdout.split("\n").slice(0, 3), ["hostdata", "inner", "0"]);
      // bind only takes the directory; rbind takes the tmpfs on sub with it
      assertEquals(r.stdout.split("\n").slice(3).sort(), [
        "",
        "/nb rw,relatime",
        "/rb rw,relatime",
        "/rb/sub rw,relatime",
        "/ro ro,relatime",
      ]);
      assertEquals(await Deno.readTextFile(`${dir}/f`), "hostdata\n");
      assertEquals(await Deno.readTextFile(`${dir}/new`), "from-container\n");
      assertEquals(r.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await host("umount", `${dir}/sub`);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts run: missing mount targets are created: a file for a file bind, parent dirs",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-hostfile-" });
    await Deno.writeTextFile(`${dir}/file.txt`, "hostfile\n");
    const b = await makeBundle({
      copyRootfs: true,
      args: [
        "sh",
        "-c",
        "cat /etc/new/file.txt; stat -c '%F' /etc/new/file.txt /a/b/c /a/b; grep -E ' /(etc/new/file.txt|a/b/c) ' /proc/self/mountinfo | cut -d' ' -f4,5",
      ],
      mutate(s) {
        s.mounts.push(
          {
            destination: "/etc/new/file.txt",
            type: "bind",
            source: `${dir}/file.txt`,
            options: ["bind"],
          },
          { destination: "/a/b/c", type: "tmpfs", source: "tmpfs" },
        );
      },
    });
    try {
      const r = await runts(["run", "-b", b.dir, "rootfs-targets"], { root });
      assertEquals(r.stderr, "");
      assertEquals(
        r.stdout,
        [
          "hostfile",
          "regular file",
          "directory",
          "directory",
          `${dir}/file.txt /etc/new/file.txt`,
          "/ /a/b/c",
          "",
        ].join("\n"),
      );
      assertEquals(r.code, 0);
      // created inside the bundle's rootfs copy, as an empty file and directories
      assertEquals((await Deno.stat(`${b.dir}/rootfs/etc/new/file.txt`)).size, 0);
      assert((await Deno.stat(`${b.dir}/rootfs/a/b/c`)).isDirectory);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts run: tmpfs size= and mode= options, nosuid,nodev,noexec in mountinfo",
  ...opts,
  async fn() {
    const r = await sh(
      "rootfs-tmpfs",
      "stat -c %a /tmp /root; grep -E ' /(tmp|root) ' /proc/self/mountinfo | cut -d' ' -f5,6,9-; cp /bin/busybox /root/bb; /root/bb true",
      (s) => {
        s.mounts.push(
          {
            destination: "/tmp",
            type: "tmpfs",
            source: "tmpfs",
            options: ["size=2m", "mode=0710"],
          },
          {
            destination: "/root",
            type: "tmpfs",
            source: "tmpfs",
            options: ["nosuid", "nodev", "noexec", "mode=0750"],
          },
        );
      },
    );
    assertEquals(r.stdout.split("\n").slice(0, 2), ["710", "750"]);
    const mounts = r.stdout.split("\n").slice(2).filter((l) => l !== "").sort();
    assertEquals(mounts.length, 2, r.stdout);
    // mount point, mount options, source, superblock options
    assertStringIncludes(mounts[0]!, "/root rw,nosuid,nodev,noexec,relatime tmpfs rw,");
    assertStringIncludes(mounts[0]!, "mode=750");
    assertStringIncludes(mounts[1]!, "/tmp rw,relatime tmpfs rw,size=2048k,");
    assertStringIncludes(mounts[1]!, "mode=710");
    // noexec: the copied busybox does not run
    assertEquals(r.stderr, "sh: /root/bb: Permission denied\n");
    assertEquals(r.code, 126);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name:
    "runts run: sync, dirsync and lazytime reach a new filesystem's superblock; iversion is accepted",
  ...opts,
  async fn() {
    const r = await sh(
      "rootfs-sbflags",
      "grep -E ' /(mnt|srv) ' /proc/self/mountinfo | sort -k5",
      (s) => {
        s.mounts.push(
          {
            destination: "/mnt",
            type: "tmpfs",
            source: "tmpfs",
            options: ["sync", "dirsync", "iversion"],
          },
          { destination: "/srv", type: "tmpfs", source: "tmpfs", options: ["lazytime"] },
        );
      },
    );
    assertEquals([r.stderr, r.code], ["", 0]);
    // mount point, mount options, filesystem type, superblock options (mountinfo's optional
    // fields end at " - ")
    const [mnt, srv] = r.stdout.trim().split("\n").map((l) => {
      const [pre, post] = l.split(" - ");
      const f = pre!.split(" ");
      const g = post!.split(" ");
      return [f[4]!, f[5]!, g[0]!, g[2]!];
    });
    assertEquals(mnt!.slice(0, 3), ["/mnt", "rw,relatime", "tmpfs"]);
    assertStringIncludes(mnt![3]!, "rw,sync,dirsync");
    assertEquals(srv!.slice(0, 3), ["/srv", "rw,relatime", "tmpfs"]);
    assertStringIncludes(srv![3]!, "rw,lazytime");
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts create: an rslave bind of a shared host mount receives later host mounts",
  ...opts,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-shared-" });
    await host("mount", "-t", "tmpfs", "runts-shared-src", dir);
    const late = `${dir}/late`;
    let lateMounted = false;
    const b = await makeBundle({
      args: ["sleep", "60"],
      mutate(s) {
        s.mounts.push({
          destination: "/root",
          type: "bind",
          source: dir,
          options: ["rbind", "rslave"],
        });
        s.linux.rootfsPropagation = "private";
      },
    });
    const id = "rootfs-rslave";
    try {
      await host("mount", "--make-shared", dir);
      const c = await runts(["create", "-b", b.dir, id], { root });
      assertEquals([c.code, c.stderr], [0, ""]);
      const pid = stateOf((await runts(["state", id], { root })).stdout).pid;
      const before = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
      // a slave of the host's peer group: "master:N" among the optional fields
      const rootLine = mountLine(before, "/root");
      assert(/ master:\d+ /.test(rootLine), rootLine);
      assert(!/ shared:\d+ /.test(rootLine), rootLine);

      await Deno.mkdir(late);
      await host("mount", "-t", "tmpfs", "runts-late", late);
      lateMounted = true;
      const after = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
      assertStringIncludes(mountLine(after, "/root/late"), " - tmpfs runts-late ");
      assertEquals((await runts(["delete", "--force", id], { root })).code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await runts(["delete", "--force", id], { root });
      await b.cleanup();
      if (lateMounted) await host("umount", late);
      await host("umount", dir);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts run: root.readonly makes / read-only while a tmpfs on /tmp stays writable",
  ...opts,
  async fn() {
    const r = await sh(
      "rootfs-ro",
      "touch /; touch /newfile; touch /tmp/x && echo tmp-writable; grep ' / ' /proc/self/mountinfo | cut -d' ' -f5,6",
      (s) => {
        s.root.readonly = true;
        s.mounts.push({ destination: "/tmp", type: "tmpfs", source: "tmpfs" });
      },
    );
    assertEquals(
      r.stderr,
      "touch: /: Read-only file system\ntouch: /newfile: Read-only file system\n",
    );
    assertEquals(r.stdout.split("\n")[0], "tmp-writable");
    assertStringIncludes(r.stdout, "\n/ ro,");
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: rootfsPropagation private leaves the container's / without a peer group",
  ...opts,
  async fn() {
    const r = await sh("rootfs-private", "grep ' / ' /proc/self/mountinfo", (s) => {
      s.linux.rootfsPropagation = "private";
    });
    assertEquals(r.stderr, "");
    assertEquals(r.code, 0);
    const line = r.stdout.trim();
    assertStringIncludes(line, " / rw,");
    assert(!/ (shared|master):\d+ /.test(line), line);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run --no-pivot: the container sees its rootfs as / and its mounts",
  ...opts,
  async fn() {
    const b = await makeBundle({
      args: ["sh", "-c", "ls -A /; awk '$5 == \"/\" {print $4, $5}' /proc/self/mountinfo; echo $$"],
    });
    try {
      const r = await runts(["run", "--no-pivot", "-b", b.dir, "rootfs-nopivot"], { root });
      assertEquals(r.stderr, "");
      const entries = [...Deno.readDirSync(ROOTFS)].map((e) => e.name).sort();
      assertEquals(r.stdout, [...entries, `${ROOTFS} /`, "1", ""].join("\n"));
      assertEquals(r.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runts run: /dev has the default devices, the standard symlinks and extra linux.devices",
  ...opts,
  async fn() {
    const r = await sh(
      "rootfs-dev",
      [
        "for d in null zero full random urandom tty fuse net/tun; do stat -c '%n %F %t %T %a %u %g' /dev/$d; done",
        "for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done",
        "echo into-null > /dev/null && head -c 3 /dev/zero | od -An -tx1",
      ].join("; "),
      (s) => {
        s.linux.devices = [
          { path: "/dev/fuse", type: "c", major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
          {
            path: "/dev/net/tun",
            type: "c",
            major: 10,
            minor: 200,
            fileMode: 0o620,
            uid: 1,
            gid: 2,
          },
        ];
      },
    );
    assertEquals(r.stderr, "");
    // %t %T: major and minor in hex
    assertEquals(r.stdout.split("\n"), [
      "/dev/null character special file 1 3 666 0 0",
      "/dev/zero character special file 1 5 666 0 0",
      "/dev/full character special file 1 7 666 0 0",
      "/dev/random character special file 1 8 666 0 0",
      "/dev/urandom character special file 1 9 666 0 0",
      "/dev/tty character special file 5 0 666 0 0",
      "/dev/fuse character special file a e5 666 0 0",
      "/dev/net/tun character special file a c8 620 1 2",
      "/dev/fd /proc/self/fd",
      "/dev/stdin /proc/self/fd/0",
      "/dev/stdout /proc/self/fd/1",
      "/dev/stderr /proc/self/fd/2",
      "/dev/ptmx pts/ptmx",
      " 00 00 00",
      "",
    ]);
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run: maskedPaths hide files and directories, readonlyPaths refuse writes",
  ...opts,
  async fn() {
    // Masked files that have content on this host (/proc/kcore only exists on some kernels).
    const files: string[] = [];
    for (const f of ["/proc/kcore", "/proc/timer_list", "/proc/keys"]) {
      const st = await Deno.stat(f).catch(() => null);
      if (st === null) continue;
      const head = await new Deno.Command("head", { args: ["-c", "1", f] }).output();
      if (head.stdout.length > 0) files.push(f);
    }
    assert(files.length > 0, "no masked file with content on this host");
    const hostFirmware = [...Deno.readDirSync("/sys/firmware")].length;
    assert(hostFirmware > 0, "/sys/firmware is empty on this host");
    const r = await sh(
      "rootfs-masked",
      [
        ...files.map((f) => `echo ${f} $(wc -c < ${f}) $(stat -c '%t %T' ${f})`),
        "echo /sys/firmware $(ls -A /sys/firmware | wc -l)",
        "echo /proc/acpi $(ls -A /proc/acpi | wc -l)",
        "touch /sys/firmware/x",
        "echo runts-test > /proc/sys/kernel/domainname",
        "cat /proc/sys/kernel/domainname",
        'awk \'$5 == "/sys/firmware" || $5 == "/proc/acpi" || $5 == "/proc/sys" {print $5, $6, $8}\' /proc/self/mountinfo',
      ].join("; "),
    );
    assertEquals(
      r.stderr,
      "touch: /sys/firmware/x: Read-only file system\n" +
        "sh: can't create /proc/sys/kernel/domainname: Read-only file system\n",
    );
    const lines = r.stdout.split("\n");
    // masked files are /dev/null (1 3) bind mounts
    assertEquals(lines.slice(0, files.length), files.map((f) => `${f} 0 1 3`));
    assertEquals(lines.slice(files.length, files.length + 3), [
      "/sys/firmware 0",
      "/proc/acpi 0",
      "(none)",
    ]);
    assertEquals(lines.slice(files.length + 3).sort(), [
      "",
      "/proc/acpi ro,relatime tmpfs",
      "/proc/sys ro,relatime proc",
      "/sys/firmware ro,relatime tmpfs",
    ]);
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

/** A rootfs copy with `evil` -> `target` (an absolute host path); the tmpfs goes on /evil. */
async function evilBundle(target: string, script: string) {
  const b = await makeBundle({
    copyRootfs: true,
    args: ["sh", "-c", script],
    mutate(s) {
      s.mounts.push({ destination: "/evil", type: "tmpfs", source: "runts-evil" });
    },
  });
  await Deno.symlink(target, `${b.dir}/rootfs/evil`);
  return b;
}

Deno.test({
  name: "runts run: a mount target symlinked to a host path resolves inside the rootfs",
  ...opts,
  async fn() {
    const hostDir = await Deno.makeTempDir({ prefix: "runts-evil-" });
    await Deno.writeTextFile(`${hostDir}/keep`, "untouched\n");
    const b = await evilBundle(
      hostDir,
      `echo inside > /evil/marker; awk '$9 == "runts-evil" {print $5}' /proc/self/mountinfo`,
    );
    try {
      // The same path exists inside the rootfs copy: that is where the tmpfs must go.
      await Deno.mkdir(`${b.dir}/rootfs${hostDir}`, { recursive: true });
      const r = await runts(["run", "-b", b.dir, "rootfs-evil"], { root });
      assertEquals(r.stderr, "");
      assertEquals(r.stdout, `${hostDir}\n`);
      assertEquals(r.code, 0);
      assertEquals([...Deno.readDirSync(hostDir)].map((e) => e.name), ["keep"]);
      assertEquals(await hostMountsUnder(hostDir), []);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
      await Deno.remove(hostDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runts run: a mount target symlinked to a missing host path is created inside the rootfs",
  ...opts,
  async fn() {
    const hostDir = await Deno.makeTempDir({ prefix: "runts-evil-" });
    await Deno.writeTextFile(`${hostDir}/keep`, "untouched\n");
    const b = await evilBundle(
      hostDir,
      `echo inside > /evil/marker; awk '$9 == "runts-evil" {print $5}' /proc/self/mountinfo`,
    );
    try {
      const r = await runts(["run", "-b", b.dir, "rootfs-evil-missing"], { root });
      // The host directory is never touched, whatever happens.
      assertEquals([...Deno.readDirSync(hostDir)].map((e) => e.name), ["keep"]);
      assertEquals(await hostMountsUnder(hostDir), []);
      // Like runc (securejoin): the path is created inside the rootfs and the tmpfs lands there.
      assertEquals(r.stderr, "");
      assertEquals(r.stdout, `${hostDir}\n`);
      assertEquals(r.code, 0);
      assert((await Deno.stat(`${b.dir}/rootfs${hostDir}`)).isDirectory);
      assertEquals(await leftovers(root), NOTHING);
    } finally {
      await b.cleanup();
      await Deno.remove(hostDir, { recursive: true });
    }
  },
});
