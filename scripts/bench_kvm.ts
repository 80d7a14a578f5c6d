/**
 * `deno task bench --kvm`: the KVM VMM core through Deno FFI against the same loop written in C
 * (built here with cc into a temp dir, not kept): VM creation + first exit, and port-I/O exits
 * per second (the real-mode `pio` guest), plus the ring-3 syscall guest's syscalls per second.
 * @module
 */
import { openKvm } from "../src/kvm/device.ts";
import { runGuest } from "../src/kvm/machine.ts";
import { GUEST_IMAGES } from "../ffi/kvm_guests_x86_64.ts";
import { closeFd } from "../ffi/process.ts";

const C_SOURCE = (hex: string, entry: number, load: number) => `
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
static const char *hex = "${hex}";
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(int argc, char **argv) {
  long n = atol(argv[1]);
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  double t0 = now();
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  size_t size = 2 << 20;
  unsigned char *mem = mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  for (size_t i = 0; hex[2 * i]; i++) { unsigned v; sscanf(hex + 2 * i, "%2x", &v); mem[${load} + i] = v; }
  struct kvm_userspace_memory_region r = { .slot = 0, .guest_phys_addr = 0, .memory_size = size, .userspace_addr = (unsigned long)mem };
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) < 0) return 2;
  int cpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  int msz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(0, msz, PROT_READ | PROT_WRITE, MAP_SHARED, cpu, 0);
  struct kvm_sregs s; ioctl(cpu, KVM_GET_SREGS, &s);
  s.cs.base = 0; s.cs.selector = 0; s.ds.base = 0; s.ds.selector = 0;
  ioctl(cpu, KVM_SET_SREGS, &s);
  struct kvm_regs g; memset(&g, 0, sizeof g);
  g.rip = ${load + entry}; g.rcx = n; g.rflags = 2;
  ioctl(cpu, KVM_SET_REGS, &g);
  double t1 = now(), first = 0, t2;
  long io = 0;
  for (;;) {
    if (ioctl(cpu, KVM_RUN, 0) < 0) return 3;
    if (!first) first = now();
    if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0xf6) { io++; continue; }
    if (run->exit_reason == KVM_EXIT_HLT) break;
    return 4;
  }
  t2 = now();
  printf("{\\"createMs\\": %f, \\"firstExitMs\\": %f, \\"ioExits\\": %ld, \\"runMs\\": %f}\\n", t1 - t0, first - t1, io, t2 - t1);
  return 0;
}
`;

/** One measurement of both sides. */
export interface KvmBench {
  ffi: { createMs: number; firstExitMs: number; exitsPerSec: number; syscallsPerSec: number };
  c: { createMs: number; firstExitMs: number; exitsPerSec: number };
}

/** Runs the benchmark (`count` port-I/O exits per run, best of `runs`). */
export async function benchKvm(count = 100_000, runs = 3): Promise<KvmBench> {
  const dir = Deno.makeTempDirSync({ prefix: "runts-bench-kvm-" });
  try {
    const img = GUEST_IMAGES.real;
    Deno.writeTextFileSync(`${dir}/loop.c`, C_SOURCE(img.hex, img.labels.pio_loop!, img.load));
    const cc = await new Deno.Command("cc", { args: ["-O2", "-o", `${dir}/loop`, `${dir}/loop.c`] })
      .output();
    if (!cc.success) throw new Error(`cc: ${new TextDecoder().decode(cc.stderr)}`);
    const cs: { createMs: number; firstExitMs: number; ioExits: number; runMs: number }[] = [];
    for (let i = 0; i < runs; i++) {
      const o = await new Deno.Command(`${dir}/loop`, { args: [String(count)] }).output();
      if (!o.success) throw new Error(`C loop failed with ${o.code}`);
      cs.push(JSON.parse(new TextDecoder().decode(o.stdout)));
    }
    const dev = openKvm();
    const fs = [];
    const ss = [];
    try {
      for (let i = 0; i < runs; i++) {
        fs.push(await runGuest(dev.fd, "pio", { count }));
        ss.push(await runGuest(dev.fd, "syscall", { count: count / 5 }));
      }
    } finally {
      closeFd(dev.fd);
    }
    const min = (v: number[]) => Math.min(...v);
    const max = (v: number[]) => Math.max(...v);
    return {
      ffi: {
        createMs: min(fs.map((r) => r.createMs + r.setupMs)),
        firstExitMs: min(fs.map((r) => r.firstEntryUs / 1000)),
        exitsPerSec: max(fs.map((r) => r.ioExits / (r.runMs / 1000))),
        syscallsPerSec: max(ss.map((r) => r.syscalls / (r.runMs / 1000))),
      },
      c: {
        createMs: min(cs.map((r) => r.createMs)),
        firstExitMs: min(cs.map((r) => r.firstExitMs)),
        exitsPerSec: max(cs.map((r) => r.ioExits / (r.runMs / 1000))),
      },
    };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** Prints the table `deno task bench --kvm` shows (and docs/benchmarks.md keeps). */
export async function mainKvm(): Promise<number> {
  const b = await benchKvm();
  const f = (v: number) => v.toFixed(2);
  console.log("| KVM (guest `pio`, 100000 port-I/O exits) | Deno FFI | C | FFI / C |");
  console.log("|---|---|---|---|");
  console.log(
    `| VM + vCPU creation and setup (ms) | ${f(b.ffi.createMs)} | ${f(b.c.createMs)} | ${
      f(b.ffi.createMs / b.c.createMs)
    } |`,
  );
  console.log(
    `| first entry to first exit (ms) | ${f(b.ffi.firstExitMs)} | ${f(b.c.firstExitMs)} | ${
      f(b.ffi.firstExitMs / b.c.firstExitMs)
    } |`,
  );
  console.log(
    `| port-I/O exits/s | ${Math.round(b.ffi.exitsPerSec)} | ${Math.round(b.c.exitsPerSec)} | ${
      f(b.ffi.exitsPerSec / b.c.exitsPerSec)
    } |`,
  );
  console.log(
    `| ring-3 syscalls/s answered (guest \`syscall\`) | ${
      Math.round(b.ffi.syscallsPerSec)
    } | – | – |`,
  );
  return 0;
}
