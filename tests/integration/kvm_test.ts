/**
 * KVM (root, /dev/kvm): each built-in guest, the timeout, every fd closed, the errors, and the
 * device's hand-off from the CLI to a sandbox process. Skipped, with the reason printed, where
 * there is no usable /dev/kvm.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { leftovers, makeBundle, newRoot, runts, RUNTS_BIN } from "./_helpers.ts";
import { checkKvmFd, hostFacts, kvmBackend, openKvm } from "../../src/kvm/device.ts";
import { runGuest } from "../../src/kvm/machine.ts";
import { runLoop } from "../../src/kvm/run_loop.ts";
import { supportedCpuid, Vm } from "../../src/kvm/vm.ts";
import { guestSetup, longModeSregs } from "../../src/kvm/guests.ts";
import { KVM_SYNC_X86 } from "../../ffi/kvm.ts";
import { encodeSregs, REG_NAMES, type Regs, REGS_SIZE, RUN } from "../../ffi/structs/kvm.ts";
import { closeFd, openPath } from "../../ffi/process.ts";
import { GUEST_IMAGES } from "../../ffi/kvm_guests_x86_64.ts";

const why = (() => {
  if (Deno.uid() !== 0) return "not root";
  try {
    closeFd(openKvm().fd);
    return "";
  } catch (e) {
    return (e as Error).message;
  }
})();
if (why) console.log(`kvm_test: skipped: ${why}`);
const ignore = why !== "";

/** The VM's fds in this process: anon_inode:kvm-vm, anon_inode:kvm-vcpu, the guest memfd. */
function vmFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
    try {
      return /kvm-v|runts-guest/.test(Deno.readLinkSync(`/proc/self/fd/${e.name}`));
    } catch {
      return false;
    }
  }).length;
}

async function withKvm<T>(fn: (fd: number) => Promise<T>): Promise<T> {
  const dev = openKvm();
  try {
    return await fn(dev.fd);
  } finally {
    closeFd(dev.fd);
  }
}

Deno.test({
  name: "runGuest() real mode: prints on the UART and halts",
  ignore,
  async fn() {
    const r = await withKvm((fd) => runGuest(fd, "real"));
    assertEquals([r.end, r.output, r.rip], ["halt", "hello from real mode\n", "0x1014"]);
  },
});

Deno.test({
  name: "runGuest() long mode: sums the VMM's numbers, prints and exits with a status",
  ignore,
  async fn() {
    const r = await withKvm((fd) => runGuest(fd, "long"));
    assertEquals(r.end, "exit");
    assertEquals(r.status, 5050 & 0xff);
    assertEquals(r.output, "long mode: sum of the VMM's numbers = 5050\n");
  },
});

Deno.test({
  name: "runGuest() ring 3: syscalls reach the VMM, are answered and the guest continues",
  ignore,
  async fn() {
    const r = await withKvm((fd) => runGuest(fd, "syscall", { count: 50 }));
    assertEquals(r.end, "exit");
    assertEquals(r.status, 42); // 42 + the number of wrong getpid answers
    assertEquals(r.syscalls, 52); // write, 50 getpid, exit_group
    assertEquals(r.output, "hello from ring 3 via syscall\n");
  },
});

Deno.test({
  name: "runGuest() stops a guest that loops forever at the timeout and closes every fd",
  ignore,
  async fn() {
    const fds = vmFds;
    const before = fds();
    assertEquals(before, 0);
    const r = await withKvm((fd) => runGuest(fd, "spin", { timeoutMs: 200 }));
    assertEquals([r.end, r.rip, r.exits], ["timeout", "0x1016", 0]);
    assertEquals(fds(), before);
    const maps = Deno.readTextFileSync("/proc/self/maps");
    assertEquals(maps.includes("runts-guest-memory"), false);
  },
});

Deno.test({
  name: "runGuest() refuses guest memory over the cap and a guest that does not fit",
  ignore,
  async fn() {
    await withKvm(async (fd) => {
      const e1 = await runGuest(fd, "real", { memoryBytes: 1 << 30 }).catch((e) => e);
      assertStringIncludes(e1.message, "more than the cap of 268435456 bytes");
      const e2 = await runGuest(fd, "real", { memoryBytes: 4096 }).catch((e) => e);
      assertEquals(e2.message, 'kvm: guest "real" does not fit in 4096 bytes of memory');
    });
  },
});

Deno.test({
  name: "openKvm()/checkKvmFd() errors: no device, not a KVM device",
  ignore,
  fn() {
    let e = (() => {
      try {
        openKvm("/nonexistent/kvm");
      } catch (e) {
        return e as Error;
      }
      return undefined;
    })();
    assertEquals(e?.message, 'kvm: "/nonexistent/kvm" does not exist (no KVM on this host)');
    const fd = openPath("/dev/null", 2);
    try {
      checkKvmFd(fd, "/dev/null");
    } catch (x) {
      e = x as Error;
    } finally {
      closeFd(fd);
    }
    assertEquals(
      e?.message,
      'kvm: "/dev/null" is not a KVM device: ioctl: ENOTTY (Inappropriate ioctl for device)',
    );
  },
});

Deno.test({
  name: "runts debug kvm: the CLI opens /dev/kvm, a sandbox process runs the guests",
  ignore,
  async fn() {
    const r = await runts([
      "debug",
      "kvm",
      "--guest",
      "real",
      "--guest",
      "syscall",
      "--guest",
      "spin",
      "--count",
      "10",
      "--timeout",
      "300",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const pid = Number(/sandbox process (\d+) receives the fd/.exec(r.stdout)?.[1]);
    assert(pid > 0, r.stdout);
    assertStringIncludes(r.stdout, 'output: "hello from real mode\\n"');
    assertStringIncludes(r.stdout, "syscall: exit status 42");
    // the sandbox process's vCPU thread, stopped by the timeout
    assertStringIncludes(r.stdout, "spin: stopped by the timeout (rip 0x1016)");
    let alive = true;
    try {
      Deno.statSync(`/proc/${pid}`);
    } catch {
      alive = false;
    }
    assertEquals(alive, false);
  },
});

Deno.test({
  name: "runts --platform kvm / dev.runts.platform: fd handed over, workload refused, nothing left",
  ignore,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["/bin/true"] });
    const id = `kvm-${Deno.pid}`;
    try {
      const want = 'platform "kvm": the sandbox process received /dev/kvm (API version 12)';
      const r1 = await runts(["--platform", "kvm", "run", "-b", b.dir, id], { root });
      assertEquals(r1.code, 1);
      assertStringIncludes(r1.stderr, want);
      const b2 = await makeBundle({
        args: ["/bin/true"],
        mutate: (s) => (s.annotations = { "dev.runts.platform": "kvm" }),
      });
      const r2 = await runts(["create", "-b", b2.dir, id], { root });
      assertEquals(r2.code, 1);
      assertStringIncludes(r2.stderr, want);
      await b2.cleanup();
      const r3 = await runts(["--platform", "xen", "state", id], { root });
      assertEquals(r3.stderr.trim(), 'runts: --platform: must be "native" or "kvm", not "xen"');
      assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "runGuest() turns MMIO, SHUTDOWN and an unknown port into errors naming the guest's rip",
  ignore,
  async fn(t) {
    const at = (label: string, len: number) =>
      `0x${(GUEST_IMAGES.long.load + GUEST_IMAGES.long.labels[label]! + len).toString(16)}`;
    const cases = [
      // MMIO and port I/O exits come after the instruction; the fault at it.
      [
        "mmio",
        `MMIO exit: write to 0x3ff000 (1 bytes) outside guest memory at rip ${at("mmio", 8)}`,
      ],
      ["fault", `SHUTDOWN exit: the guest shut down (triple fault) at rip ${at("fault", 0)}`],
      [
        "badport",
        `port I/O exit: write to port 0x80 (size 1) has no device at rip ${at("badport", 2)}`,
      ],
    ] as const;
    for (const [guest, error] of cases) {
      await t.step(guest, async () => {
        const r = await withKvm((fd) => runGuest(fd, guest));
        assertEquals([r.end, r.error], ["error", error]);
      });
    }
  },
});

Deno.test({
  name: "runts debug kvm: a failing guest is a one-line error and a non-zero exit",
  ignore,
  async fn() {
    const r = await runts(["debug", "kvm", "--guest", "badport"]);
    assertEquals(r.code, 1);
    assertEquals(
      r.stderr.trim(),
      `runts: debug kvm: guest "badport": port I/O exit: write to port 0x80 (size 1) has no ` +
        `device at rip 0x${
          (GUEST_IMAGES.long.load + GUEST_IMAGES.long.labels.badport! + 2).toString(16)
        }`,
    );
  },
});

Deno.test({
  name: "runts features reports the kvm platform with its API version, backend and capabilities",
  ignore,
  async fn() {
    const r = await runts(["features"]);
    assertEquals(r.code, 0, r.stderr);
    const kvm = JSON.parse(r.stdout).platforms.kvm;
    assertEquals([kvm.available, kvm.apiVersion], [true, 12]);
    const modules = [...Deno.readDirSync("/sys/module")].map((e) => e.name);
    if (modules.includes("kvm_pvm")) assertEquals(kvm.backend, "pvm");
    assertEquals(kvm.capabilities.USER_MEMORY, 1);
    assertEquals(kvm.capabilities.IMMEDIATE_EXIT, 1);
  },
});

Deno.test({
  name: "openKvm() without permission: a device node on a nodev mount (EACCES even for root)",
  ignore,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "runts-kvm-nodev-" });
    const sh = (cmd: string[]) => new Deno.Command(cmd[0]!, { args: cmd.slice(1) }).outputSync();
    const m = sh(["mount", "-t", "tmpfs", "-o", "nodev,size=64k", "runts-kvm-test", dir]);
    assertEquals(m.success, true, new TextDecoder().decode(m.stderr));
    try {
      assertEquals(sh(["mknod", `${dir}/kvm`, "c", "10", "232"]).success, true);
      let msg = "";
      try {
        closeFd(openKvm(`${dir}/kvm`).fd);
      } catch (e) {
        msg = (e as Error).message;
      }
      assertEquals(msg, `kvm: no permission to open "${dir}/kvm" (EACCES)`);
    } finally {
      sh(["umount", dir]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "runGuest() blocks no event loop: a second VM runs to its end while the first spins",
  ignore,
  async fn() {
    await withKvm(async (fd) => {
      const order: string[] = [];
      const spin = runGuest(fd, "spin", { timeoutMs: 5000 }).then((r) => {
        order.push("spin");
        return r;
      });
      const real = runGuest(fd, "real").then((r) => {
        order.push("real");
        return r;
      });
      assertEquals((await real).output, "hello from real mode\n");
      assertEquals((await spin).end, "timeout");
      assertEquals(order, ["real", "spin"]);
    });
  },
});

Deno.test({
  name: "runGuest() INTERNAL_ERROR: an instruction the ring-0 emulator cannot handle (PVM)",
  ignore,
  async fn() {
    const backend = kvmBackend(hostFacts());
    if (backend !== "pvm") {
      // With VT-x/AMD-V ring 0 runs natively: vpxor with CR4.OSXSAVE clear is #UD, a triple fault.
      console.log(`skipped: the KVM backend is ${backend}, not pvm (ring 0 is not emulated)`);
      return;
    }
    const img = GUEST_IMAGES.long;
    const at = img.labels.emulfail!;
    // KVM reports the 15 bytes it fetched at rip: vpxor (c5 f9 ef c0), hlt, then what follows.
    const bytes = img.hex.slice(2 * at, 2 * (at + 15)).match(/../g)!.join(" ");
    assertEquals(bytes.slice(0, 14), "c5 f9 ef c0 f4");
    const rip = `0x${(img.load + at).toString(16)}`;
    assertEquals(vmFds(), 0);
    const r = await withKvm((fd) => runGuest(fd, "emulfail"));
    assertEquals([r.end, r.rip, r.exits], ["error", rip, 1]);
    assertEquals(
      r.error,
      "INTERNAL_ERROR exit: KVM could not handle the guest (suberror 1: emulation failure, " +
        `instruction bytes ${bytes}) at rip ${rip}`,
    );
    assertEquals(vmFds(), 0);
    assertEquals(Deno.readTextFileSync("/proc/self/maps").includes("runts-guest-memory"), false);
    // The same through the CLI and a sandbox process: one line, non-zero exit, nothing left.
    const root = await newRoot();
    const c = await runts(["debug", "kvm", "--guest", "emulfail"], { root });
    assertEquals(c.code, 1);
    assertEquals(c.stderr.trim(), `runts: debug kvm: guest "emulfail": ${r.error}`);
    assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
  },
});

/**
 * Runs `runts --root <root> ...args` in a private mount namespace whose /dev has every entry of
 * the host's /dev (bind-mounted) except kvm: a host without KVM, as runts sees it.
 */
async function runtsWithoutKvm(root: string, args: string[]) {
  const dev = await Deno.makeTempDir({ prefix: "runts-nokvm-dev-" });
  const script = `set -e
d=$1; shift
mount -t tmpfs -o mode=755 runts-nokvm "$d"
for e in /dev/*; do
  n=\${e##*/}
  [ "$n" = kvm ] && continue
  if [ -L "$e" ]; then cp -a "$e" "$d/$n"
  elif [ -d "$e" ]; then mkdir "$d/$n"; mount --rbind "$e" "$d/$n"
  else : > "$d/$n"; mount --bind "$e" "$d/$n"; fi
done
mount --move "$d" /dev
if [ -e /dev/kvm ] || [ ! -c /dev/null ]; then echo "test setup: /dev not as wanted" >&2; exit 99; fi
exec "$@"`;
  try {
    const out = await new Deno.Command("unshare", {
      args: [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
        dev,
        RUNTS_BIN,
        "--root",
        root,
        ...args,
      ],
      stdin: "null",
    }).output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    await Deno.remove(dev);
  }
}

Deno.test({
  name: "runts --platform kvm on a host without /dev/kvm: one line, exit 1, nothing left",
  ignore: (() => {
    // The test hides /dev/kvm with unshare(1) and mount(8) (runts itself uses neither).
    const why = Deno.uid() !== 0 ? "not root" : ["unshare", "mount"].find((c) => {
      try {
        return !new Deno.Command(c, { args: ["--version"], stdout: "null" }).outputSync().success;
      } catch {
        return true;
      }
    });
    if (why) {
      console.log(`kvm_test: no-/dev/kvm test skipped: ${why === "not root" ? why : `no ${why}`}`);
    }
    return why !== undefined;
  })(),
  async fn(t) {
    const root = await newRoot();
    const cgroup = `runts-nokvm-${Deno.pid}`;
    const b = await makeBundle({
      args: ["/bin/true"],
      mutate: (s) => {
        s.linux = { ...s.linux, cgroupsPath: `/${cgroup}` };
        s.annotations = { "dev.runts.platform": "kvm" };
      },
    });
    const id = `nokvm-${Deno.pid}`;
    const want = 'runts: kvm: "/dev/kvm" does not exist (no KVM on this host)';
    const cgroupDirs = () =>
      [...Deno.readDirSync("/sys/fs/cgroup")].flatMap((h) =>
        [`/sys/fs/cgroup/${h.name}/${cgroup}`].filter((p) => {
          try {
            Deno.statSync(p);
            return true;
          } catch {
            return false;
          }
        })
      );
    try {
      for (
        const args of [
          ["--platform", "kvm", "create", "-b", b.dir, id],
          ["--platform", "kvm", "run", "-b", b.dir, id],
          ["create", "-b", b.dir, id], // the annotation dev.runts.platform=kvm
        ]
      ) {
        await t.step(args.join(" ").replace(b.dir, "<bundle>"), async () => {
          const r = await runtsWithoutKvm(root, args);
          assertEquals([r.code, r.stderr, r.stdout], [1, `${want}\n`, ""]);
          assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
          assertEquals(cgroupDirs(), []);
          const s = await runts(["state", id], { root });
          assertEquals(s.stderr.trim(), `runts: container "${id}" does not exist`);
        });
      }
    } finally {
      await b.cleanup();
    }
  },
});

Deno.test({
  name: "an invalid vCPU state at entry: KVM_SET_SREGS and KVM_RUN refuse it (EINVAL), named",
  ignore,
  async fn(t) {
    // This kernel checks the control registers when they are set: a state no CPU can enter
    // never reaches the CPU, so it is EINVAL there rather than a FAIL_ENTRY exit.
    const bad = { cr0: 0x80000010n }; // PG (and ET) without PE
    await withKvm(async (fd) => {
      const vm = Vm.create(fd, 2 << 20);
      try {
        const vcpu = vm.createVcpu(0, supportedCpuid(fd));
        const setup = guestSetup("long", { memoryBytes: 2 << 20 });
        for (const w of setup.writes) vm.memory.bytes.set(w.bytes, w.addr);
        const good = longModeSregs(vcpu.getSregs());
        const refused = { ...good, ...bad };
        await t.step("KVM_SET_SREGS", () => {
          let msg = "";
          try {
            vcpu.setSregs(refused);
          } catch (e) {
            msg = (e as Error).message;
          }
          assertEquals(
            msg,
            "kvm: KVM_SET_SREGS: EINVAL: KVM refused the vCPU's special registers as a state it " +
              "cannot enter (cr0 0x80000010, cr3 0x2000, cr4 0x620, efer 0x501, apic base " +
              `0x${good.apicBase.toString(16)})`,
          );
        });
        await t.step("KVM_RUN, handed the state in kvm_run's sync area", () => {
          vcpu.setSregs(good);
          const regs = Object.fromEntries(REG_NAMES.map((n) => [n, 0n])) as Regs;
          vcpu.setRegs({ ...regs, rflags: 2n, ...setup.regs });
          const run = vcpu.run.bytes;
          run.set(encodeSregs(refused), RUN.syncRegs + REGS_SIZE);
          new DataView(run.buffer, run.byteOffset).setBigUint64(
            RUN.kvmDirtyRegs,
            BigInt(KVM_SYNC_X86.SREGS),
            true,
          );
          // KVM_RUN fails at once: the loop runs on this thread.
          const r = runLoop({ vcpuFd: vcpu.fd, run, memory: vm.memory.bytes });
          assertEquals([r.end, r.exits], ["error", 0]);
          assertEquals(
            r.error,
            "KVM_RUN failed: ioctl: EINVAL (Invalid argument): KVM refused to enter the guest " +
              `with the vCPU state it was given at rip 0x${setup.regs.rip!.toString(16)}`,
          );
        });
      } finally {
        vm.close();
      }
    });
    assertEquals(vmFds(), 0);
  },
});
