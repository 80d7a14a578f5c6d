/**
 * Behaviours runc users rely on, each tried as a runc user would (issue 11): seccomp profiles
 * that do not know close_range, rootfs propagation, a read-only /dev, bind sources out of the
 * user namespace's reach, hooks, seccomp notify for exec'd processes, terminal ownership, and
 * the isolation checks (symlinked /proc, --no-pivot, recursive read-only, capability names).
 */
import { assertEquals } from "../assert.ts";
import { type BundleSpec, leftovers, makeBundle, newRoot, runts } from "./_helpers.ts";

const root = Deno.uid() === 0 ? await newRoot() : "";
const opts = { ignore: Deno.uid() !== 0, sanitizeResources: false, sanitizeOps: false };
const NOTHING = { dirs: [], mounts: [], processes: [] };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const uniq = (name: string) => `${name}-${Deno.pid}-${Math.floor(Math.random() * 1e6)}`;

/** Runs `sh -c script` in a container (spec changed by mutate; prepare sees the bundle dir). */
async function sh(
  id: string,
  script: string,
  mutate: (s: BundleSpec) => void = () => {},
  extra: string[] = [],
  prepare?: (dir: string) => Promise<void>,
): Promise<Run> {
  const b = await makeBundle({
    args: ["sh", "-c", script],
    mutate,
    copyRootfs: prepare !== undefined,
  });
  try {
    await prepare?.(b.dir);
    return await runts(["run", ...extra, "-b", b.dir, uniq(id)], { root });
  } finally {
    await b.cleanup();
  }
}

for (const errno of [1, 38]) {
  Deno.test({
    name: `runts run: a seccomp profile refusing close_range (errno ${errno}) without ` +
      "noNewPrivileges starts, and no runtime fd reaches the process",
    ...opts,
    async fn() {
      const r = await sh("cr", "ls /proc/self/fd | sort -n | tr '\\n' ' '", (s) => {
        s.process.noNewPrivileges = false;
        s.linux.seccomp = {
          defaultAction: "SCMP_ACT_ALLOW",
          architectures: ["SCMP_ARCH_X86_64"],
          syscalls: [{ names: ["close_range"], action: "SCMP_ACT_ERRNO", errnoRet: errno }],
        };
      });
      assertEquals(r.stderr, "");
      // ls's own directory fd is 3
      assertEquals(r.stdout, "0 1 2 3 ");
      assertEquals(r.code, 0);
      assertEquals(await leftovers(root), NOTHING);
    },
  });
}

Deno.test({
  name: 'runts run: rootfsPropagation "shared" starts, and the container\'s "/" is shared',
  ...opts,
  async fn() {
    const r = await sh(
      "shared",
      "awk '$5 == \"/\" { print $7 }' /proc/self/mountinfo | cut -d: -f1",
      (s) => s.linux.rootfsPropagation = "shared",
    );
    assertEquals(r.stderr, "");
    assertEquals(r.stdout, "shared\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});

Deno.test({
  name: "runts run --no-pivot: CAP_SYS_ADMIN in a nested user namespace cannot mount a fresh proc",
  ...opts,
  async fn() {
    // In a user namespace of its own the container's mounts are locked, so the kernel allows a
    // new proc only while a whole one is visible in the mount namespace: the host's /proc,
    // left under the chroot of --no-pivot unless runts hides it.
    const r = await sh(
      "nopivot",
      "unshare -mrpf sh -c 'mount -t proc none /proc 2>&1; echo status=$?'",
      (s) => {
        for (const set of ["bounding", "effective", "permitted"] as const) {
          // CAP_SETFCAP: mapping uid 0 of the parent namespace needs it
          s.process.capabilities![set]!.push(
            "CAP_SYS_ADMIN",
            "CAP_SETUID",
            "CAP_SETGID",
            "CAP_SETFCAP",
          );
        }
      },
      ["--no-pivot"],
    );
    assertEquals(r.stderr, "");
    assertEquals(r.stdout, "mount: permission denied (are you root?)\nstatus=1\n");
    assertEquals(r.code, 0);
    assertEquals(await leftovers(root), NOTHING);
  },
});
