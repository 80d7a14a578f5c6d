import { assertEquals } from "../tests/assert.ts";
import { CLONE, readReport, spawnProgram } from "./clone.ts";
import { closeFd, waitPidfd } from "./process.ts";
import { Program, REPORT_FD } from "./program.ts";
import { CODE_HEX } from "./routine_x86_64.ts";
import { EXEC_STUB_HEX } from "./exec_stub_x86_64.ts";
import { SYS } from "./sysno_x86_64.ts";
import { u64s } from "./structs/kernel.ts";

const ASM = new URL("./asm/assemble.sh", import.meta.url).pathname;
const haveAs = (() => {
  try {
    return new Deno.Command("as", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "routine_x86_64.ts holds exactly what x86_64.S assembles to",
  ignore: !haveAs,
  fn() {
    const out = new Deno.Command("bash", { args: [ASM] }).outputSync();
    assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
    const text = new TextDecoder().decode(out.stdout);
    const hex = /CODE_HEX =\s*"([0-9a-f]+)"/.exec(text)?.[1];
    assertEquals(hex, CODE_HEX);
  },
});

async function runChild(p: Program) {
  const s = spawnProgram(p, { flags: 0 });
  const report = await readReport(s.reportFd);
  const status = await waitPidfd(s.pidfd);
  closeFd(s.reportFd);
  closeFd(s.pidfd);
  return { report, status };
}

Deno.test("run_program exits 0 after the last step", async () => {
  const p = new Program();
  p.call("getpid", SYS.getpid, []);
  const { report, status } = await runChild(p);
  assertEquals(report, { kind: "eof" });
  assertEquals(status.code, 0);
});

Deno.test("run_program reports the failing step and exits with its errno", async () => {
  const p = new Program();
  p.call("getpid", SYS.getpid, []);
  p.call("openat", SYS.openat, [-100, "/nonexistent/x", 0, 0]);
  p.call("getpid", SYS.getpid, []);
  const { report, status } = await runChild(p);
  assertEquals(report, { kind: "failed", index: 1, errno: 2 });
  assertEquals(status.code, 2);
});

Deno.test("run_program tolerates listed errnos and follows skips", async () => {
  const p = new Program();
  p.call("openat", SYS.openat, [-100, "/nonexistent/x", 0, 0], { ok: [2], onErrGoto: "after" });
  p.call("openat", SYS.openat, [-100, "/nonexistent/y", 0, 0]); // skipped
  p.label("after");
  p.call("getpid", SYS.getpid, [], { onOkGoto: "end" });
  p.call("openat", SYS.openat, [-100, "/nonexistent/z", 0, 0]); // skipped
  p.label("end");
  p.call("write", SYS.write, [REPORT_FD, u64s(0xffff_ffff_ffff_ffffn, 0n), 16]);
  p.call("exit_group", SYS.exit_group, [3]);
  const { report, status } = await runChild(p);
  assertEquals(report, { kind: "mark", mark: 0xffff_ffff_ffff_ffffn, value: 0n });
  assertEquals(status.code, 3);
});

Deno.test("run_program passes an earlier result as an argument", async () => {
  const p = new Program();
  const fd = p.call("openat", SYS.openat, [-100, "/dev/null", 0, 0]);
  p.call("close", SYS.close, [fd]);
  p.call("close", SYS.close, [fd]); // the same fd again: EBADF proves the reference
  const { report } = await runChild(p);
  assertEquals(report, { kind: "failed", index: 2, errno: 9 });
});

Deno.test("run_program treats a zero result as failure when asked (EOF on a read)", async () => {
  const p = new Program();
  const fd = p.call("openat", SYS.openat, [-100, "/dev/null", 0, 0]);
  p.call("read", SYS.read, [fd, new Uint8Array(8), 1], { zeroFails: true });
  const { report } = await runChild(p);
  assertEquals(report, { kind: "failed", index: 1, errno: 125 });
});

Deno.test({
  name: "spawnProgram() clones into new namespaces (root)",
  ignore: Deno.uid() !== 0,
  async fn() {
    const p = new Program();
    p.call("sethostname", SYS.sethostname, ["in-ns", 5]);
    p.call("getpid", SYS.getpid, []);
    const s = spawnProgram(p, { flags: CLONE.NEWUTS | CLONE.NEWPID | CLONE.NEWNS });
    assertEquals(await readReport(s.reportFd), { kind: "eof" });
    assertEquals((await waitPidfd(s.pidfd)).code, 0);
    closeFd(s.reportFd);
    closeFd(s.pidfd);
  },
});

Deno.test({
  name: "exec_stub_x86_64.ts holds exactly what exec_stub_x86_64.S assembles and links to",
  ignore: !haveAs,
  fn() {
    const script = new URL("./asm/assemble_stub.sh", import.meta.url).pathname;
    const out = new Deno.Command("bash", { args: [script] }).outputSync();
    assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
    const hex = /EXEC_STUB_HEX =\s*"([0-9a-f]+)"/.exec(new TextDecoder().decode(out.stdout))?.[1];
    assertEquals(hex, EXEC_STUB_HEX);
  },
});
