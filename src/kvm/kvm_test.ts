import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { answerSyscall, Uart16550, UART_BASE } from "./devices.ts";
import { kvmAnswersError, kvmBackend } from "./device.ts";
import { gdt, guestSetup, LAYOUT, longModeSregs, pageTables } from "./guests.ts";
import { selectPlatform } from "./platform.ts";
import { checkMemorySize, MAX_GUEST_MEMORY } from "./vm.ts";
import { parseDebugKvmArgs } from "../cmd/debug_kvm.ts";
import { decodeSregs, RUN_FAIL_ENTRY, RUN_INTERNAL, SREGS } from "../../ffi/structs/kvm.ts";
import { KVM_EXIT } from "../../ffi/kvm.ts";
import { exitError, kvmRunError } from "./run_loop.ts";

/** A kvm_run page's size (KVM_GET_VCPU_MMAP_SIZE's usual answer). */
const RUN_PAGE_BYTES = 4096;

Deno.test("selectPlatform() takes the flag, else the annotation, else native", async (t) => {
  await t.step("default", () => assertEquals(selectPlatform(undefined, {}), "native"));
  await t.step("annotation", () => {
    assertEquals(selectPlatform(undefined, { "dev.runts.platform": "kvm" }), "kvm");
  });
  await t.step("flag wins", () => {
    assertEquals(selectPlatform("native", { "dev.runts.platform": "kvm" }), "native");
  });
  await t.step("bad annotation", () => {
    assertThrows(
      () => selectPlatform(undefined, { "dev.runts.platform": "xen" }),
      Error,
      'annotation "dev.runts.platform": must be "native" or "kvm", not "xen"',
    );
  });
});

Deno.test("kvmBackend() reads the host's modules and CPU flags", () => {
  assertEquals(kvmBackend({ cpuFlags: ["fpu", "hypervisor"], modules: ["kvm", "kvm_pvm"] }), "pvm");
  assertEquals(kvmBackend({ cpuFlags: ["vmx"], modules: ["kvm", "kvm_intel"] }), "vmx");
  assertEquals(kvmBackend({ cpuFlags: ["svm"], modules: ["kvm", "kvm_amd"] }), "svm");
  assertEquals(kvmBackend({ cpuFlags: [], modules: [] }), "unknown");
});

Deno.test("checkMemorySize() wants whole pages under the cap", () => {
  checkMemorySize(2 << 20);
  assertThrows(() => checkMemorySize(100), Error, "must be a positive multiple of 4096");
  assertThrows(() => checkMemorySize(MAX_GUEST_MEMORY + 4096), Error, "more than the cap");
});

Deno.test("pageTables() identity-maps the first GiB with 2 MiB user pages", () => {
  const [pml4, pdpt, pd] = pageTables();
  const q = (w: { bytes: Uint8Array }, i: number) =>
    new DataView(w.bytes.buffer).getBigUint64(8 * i, true);
  assertEquals(q(pml4!, 0), BigInt(LAYOUT.PDPT) | 7n);
  assertEquals(q(pdpt!, 0), BigInt(LAYOUT.PD) | 7n);
  assertEquals([q(pd!, 0), q(pd!, 1), q(pd!, 511)], [0x87n, 0x200087n, 0x3fe00087n]);
});

Deno.test("gdt() has sysret's layout and a TSS descriptor at 0x30", () => {
  const dv = new DataView(gdt().bytes.buffer);
  assertEquals(dv.getBigUint64(0x08, true), 0x00af9b000000ffffn);
  assertEquals(dv.getBigUint64(0x28, true), 0x00affb000000ffffn);
  assertEquals(dv.getBigUint64(0x30, true), 0x0000890050000067n);
});

Deno.test("longModeSregs() turns on paging, PAE, long mode and syscall", () => {
  const s = longModeSregs(decodeSregs(new Uint8Array(SREGS.SIZE)));
  assertEquals([s.cr0, s.cr3, s.cr4, s.efer], [0x80050033n, 0x2000n, 0x620n, 0x501n]);
  assertEquals([s.cs.selector, s.cs.l, s.ss.selector, s.tr.type], [0x08, 1, 0x10, 11]);
});

Deno.test("guestSetup() places the data and registers of each guest", async (t) => {
  await t.step("long: numbers block at LAYOUT.DATA, RSI points at it", () => {
    const g = guestSetup("long", { memoryBytes: 2 << 20, numbers: [5n, 7n] });
    const data = g.writes.find((w) => w.addr === LAYOUT.DATA)!;
    assertEquals(Array.from(new BigUint64Array(data.bytes.slice().buffer)), [2n, 5n, 7n]);
    assertEquals(g.regs.rsi, BigInt(LAYOUT.DATA));
    assertEquals(g.expect, "exit status 12, output with the sum 12");
  });
  await t.step("syscall: count in R12", () => {
    assertEquals(guestSetup("syscall", { memoryBytes: 2 << 20, count: 9 }).regs.r12, 9n);
  });
  await t.step("too little memory", () => {
    assertThrows(
      () => guestSetup("long", { memoryBytes: 4096 }),
      Error,
      'guest "long" needs at least 196608 bytes of memory, not 4096',
    );
  });
});

Deno.test("Uart16550 prints THR writes and reports an empty transmitter", () => {
  const u = new Uart16550();
  for (const c of new TextEncoder().encode("hi")) u.write(UART_BASE, c);
  assertEquals(u.read(UART_BASE + 5), 0x60);
  u.write(UART_BASE + 3, 0x80); // DLAB on: port 0 is the divisor now
  u.write(UART_BASE, 1);
  assertEquals(u.read(UART_BASE), 1);
  assertEquals(u.output(), "hi");
});

Deno.test("answerSyscall() answers write, getpid, exit_group and ENOSYS", () => {
  const mem = new Uint8Array(64);
  mem.set(new TextEncoder().encode("abc"), 16);
  const u = new Uart16550();
  assertEquals(answerSyscall({ nr: 1, args: [1n, 16n, 3n, 0n, 0n, 0n] }, mem, u), { result: 3n });
  assertEquals(u.output(), "abc");
  assertEquals(answerSyscall({ nr: 1, args: [1n, 60n, 8n, 0n, 0n, 0n] }, mem, u), {
    result: -14n,
  });
  assertEquals(answerSyscall({ nr: 39, args: [0n, 0n, 0n, 0n, 0n, 0n] }, mem, u), { result: 1n });
  assertEquals(answerSyscall({ nr: 231, args: [300n, 0n, 0n, 0n, 0n, 0n] }, mem, u), { exit: 44 });
  assertEquals(answerSyscall({ nr: 2, args: [0n, 0n, 0n, 0n, 0n, 0n] }, mem, u), { result: -38n });
});

Deno.test("parseDebugKvmArgs() names a bad guest or count", () => {
  assertEquals(parseDebugKvmArgs([]).guests, ["real", "long", "syscall", "pio"]);
  assertEquals(parseDebugKvmArgs(["--guest", "spin", "--timeout", "50"]), {
    guests: ["spin"],
    timeoutMs: 50,
  });
  assertThrows(() => parseDebugKvmArgs(["--guest", "dos"]), Error, 'no built-in guest "dos"');
  assertThrows(() => parseDebugKvmArgs(["--count", "0"]), Error, "--count: must be a positive");
});

Deno.test("kvmAnswersError() names a wrong API version and a missing capability", () => {
  const all = { USER_MEMORY: 1, EXT_CPUID: 1, IMMEDIATE_EXIT: 1 };
  assertEquals(kvmAnswersError("/dev/kvm", 12, all), undefined);
  assertEquals(
    kvmAnswersError("/dev/kvm", 11, all)?.message,
    'kvm: "/dev/kvm" reports API version 11, runts needs 12',
  );
  assertEquals(
    kvmAnswersError("/dev/kvm", 12, { ...all, IMMEDIATE_EXIT: 0 })?.message,
    'kvm: "/dev/kvm" lacks the capability KVM_CAP_IMMEDIATE_EXIT',
  );
});

Deno.test("exitError() names the exit and what KVM reported with it", async (t) => {
  const page = () => {
    const run = new Uint8Array(RUN_PAGE_BYTES);
    return { run, dv: new DataView(run.buffer) };
  };
  await t.step("FAIL_ENTRY: the hardware reason, named when known, and the cpu", () => {
    const { run, dv } = page();
    dv.setBigUint64(RUN_FAIL_ENTRY.reason, 0x80000021n, true);
    dv.setUint32(RUN_FAIL_ENTRY.cpu, 1, true);
    assertEquals(
      exitError(KVM_EXIT.FAIL_ENTRY, run),
      "FAIL_ENTRY exit: the CPU refused to enter the guest (hardware reason 0x80000021, " +
        "VMX: invalid guest state, cpu 1)",
    );
    dv.setBigUint64(RUN_FAIL_ENTRY.reason, 0x7n, true);
    dv.setUint32(RUN_FAIL_ENTRY.cpu, 0, true);
    assertEquals(
      exitError(KVM_EXIT.FAIL_ENTRY, run),
      "FAIL_ENTRY exit: the CPU refused to enter the guest (hardware reason 0x7, cpu 0)",
    );
  });
  await t.step("INTERNAL_ERROR: the suberror by number and name, its data", () => {
    const { run, dv } = page();
    dv.setUint32(RUN_INTERNAL.suberror, 1, true);
    dv.setUint32(RUN_INTERNAL.ndata, 6, true); // no instruction bytes (flags 0)
    assertEquals(
      exitError(KVM_EXIT.INTERNAL_ERROR, run),
      "INTERNAL_ERROR exit: KVM could not handle the guest (suberror 1: emulation failure)",
    );
    dv.setBigUint64(RUN_INTERNAL.data, 1n, true); // flags: instruction bytes
    run.set([3, 0x0f, 0x01, 0xd9], RUN_INTERNAL.data + 8);
    assertEquals(
      exitError(KVM_EXIT.INTERNAL_ERROR, run),
      "INTERNAL_ERROR exit: KVM could not handle the guest (suberror 1: emulation failure, " +
        "instruction bytes 0f 01 d9)",
    );
    dv.setUint32(RUN_INTERNAL.suberror, 4, true);
    dv.setUint32(RUN_INTERNAL.ndata, 2, true);
    dv.setBigUint64(RUN_INTERNAL.data, 0x101n, true);
    assertEquals(
      exitError(KVM_EXIT.INTERNAL_ERROR, run),
      "INTERNAL_ERROR exit: KVM could not handle the guest (suberror 4: an unexpected exit " +
        "reason, exit reason 0x101)",
    );
    dv.setUint32(RUN_INTERNAL.suberror, 9, true);
    assertEquals(
      exitError(KVM_EXIT.INTERNAL_ERROR, run),
      "INTERNAL_ERROR exit: KVM could not handle the guest (suberror 9)",
    );
  });
  await t.step("an exit the loop does not expect", () => {
    assertEquals(exitError(KVM_EXIT.DEBUG, page().run), "unexpected DEBUG exit (reason 4)");
    assertEquals(exitError(99, page().run), "unexpected 99 exit (reason 99)");
  });
});

Deno.test("kvmRunError() says what KVM_RUN's EINVAL means and keeps other errnos plain", () => {
  assertEquals(
    kvmRunError(22),
    "KVM_RUN failed: ioctl: EINVAL (Invalid argument): KVM refused to enter the guest with the " +
      "vCPU state it was given",
  );
  assertEquals(kvmRunError(14), "KVM_RUN failed: ioctl: EFAULT (Bad address)");
});
