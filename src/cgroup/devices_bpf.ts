/**
 * Device rules on cgroup v2: cgroup2 has no devices controller; the kernel asks the
 * BPF_PROG_TYPE_CGROUP_DEVICE programs attached to a cgroup (and to its ancestors) whether an
 * access to a device node is allowed. runts generates that program from the OCI rules, in
 * TypeScript, the way runc's devicefilter and crun's ebpf.c do (no libbpf, no compiler).
 *
 * The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`:
 * the device type (BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2) in the low 16 bits of
 * access_type, the requested access (BPF_DEVCG_ACC_MKNOD 1, READ 2, WRITE 4) in the high 16.
 * It returns 1 to allow and 0 to deny.
 *
 * Rules are checked from the last to the first, so the last matching rule wins (runc and crun
 * emit them in reverse with an early return). Where a request asks for several accesses at
 * once (open O_RDWR asks read and write), each access is decided by the last rule that covers
 * it: a matching deny refuses the request if it names any of the remaining accesses; a
 * matching allow grants its accesses and the request is allowed once nothing remains. A rule
 * matching every device with `rwm` decides everything left, so the rules before it are not
 * emitted; when no such rule decides, the request is denied (the default of runc's and
 * crun's programs, and of the v1 manager, which writes `devices.deny a` first).
 * @module
 */
import {
  BPF_CGROUP_DEVICE,
  BPF_F_ALLOW_MULTI,
  BPF_PROG_TYPE_CGROUP_DEVICE,
  type BpfInsn,
  encodeInsns,
  progAttach,
  progDetach,
  progInfo,
  progLoad,
  progQuery,
  withProgById,
} from "../../ffi/bpf.ts";
import { SyscallError } from "../../ffi/error.ts";
import { closeFd, openPath } from "../../ffi/process.ts";
import { CgroupError } from "./_common.ts";
import { ACC_ALL, type DeviceRule } from "./device_emulator.ts";

const R = "linux.resources.devices";

/** `BPF_DEVCG_DEV_BLOCK`: the device type of a block device in the context. */
export const BPF_DEVCG_DEV_BLOCK = 1;
/** `BPF_DEVCG_DEV_CHAR`: the device type of a character device in the context. */
export const BPF_DEVCG_DEV_CHAR = 2;

/** The name runts gives its device programs, how it finds its own among those attached. */
export const DEVICE_PROGRAM_NAME = "runts_devices";
/** The license the program is loaded under (runc's devicefilter uses Apache too). */
export const DEVICE_PROGRAM_LICENSE = "Apache";

// opcodes: class | op | source (linux/bpf_common.h, linux/bpf.h)
const LDX_MEM_W = 0x01 | 0x60 | 0x00;
const ALU32_AND_K = 0x04 | 0x50 | 0x00;
const ALU32_RSH_K = 0x04 | 0x70 | 0x00;
const ALU32_MOV_X = 0x04 | 0xb0 | 0x08;
const ALU64_MOV_K = 0x07 | 0xb0 | 0x00;
const JMP_JEQ_K = 0x05 | 0x10 | 0x00;
const JMP_JNE_K = 0x05 | 0x50 | 0x00;
const JMP_EXIT = 0x05 | 0x90;

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({
  code,
  dst,
  src,
  off,
  imm,
});
const ret = (v: 0 | 1): BpfInsn[] => [insn(ALU64_MOV_K, 0, 0, 0, v), insn(JMP_EXIT, 0, 0, 0, 0)];

/**
 * The instructions of one rule. Registers: r2 device type, r3 accesses not decided yet,
 * r4 major, r5 minor, r1 scratch. Every "no match" jumps to the end of the block.
 */
function ruleBlock(r: DeviceRule): BpfInsn[] {
  // [instruction, jumps to the next block?]
  const body: [BpfInsn, boolean][] = [];
  if (r.type !== "a") {
    const type = r.type === "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
    body.push([insn(JMP_JNE_K, 2, 0, 0, type), true]);
  }
  if (r.major !== -1) body.push([insn(JMP_JNE_K, 4, 0, 0, r.major), true]);
  if (r.minor !== -1) body.push([insn(JMP_JNE_K, 5, 0, 0, r.minor), true]);
  const partial = r.access !== ACC_ALL;
  if (r.allow && partial) {
    // these accesses are granted; allowed once none is left
    body.push([insn(ALU32_AND_K, 3, 0, 0, ~r.access), false]);
    body.push([insn(JMP_JNE_K, 3, 0, 0, 0), true]);
  } else if (partial) {
    // refused if the request still names one of these accesses
    body.push([insn(ALU32_MOV_X, 1, 3, 0, 0), false]);
    body.push([insn(ALU32_AND_K, 1, 0, 0, r.access), false]);
    body.push([insn(JMP_JEQ_K, 1, 0, 0, 0), true]);
  }
  for (const i of ret(r.allow ? 1 : 0)) body.push([i, false]);
  return body.map(([i, toNext], k) => toNext ? { ...i, off: body.length - k - 1 } : i);
}

/**
 * The device filter for rules checked by [fromSpecRule](./device_emulator.ts) (the form the device
 * emulator holds them in), as `struct bpf_insn` bytes to load as a BPF_PROG_TYPE_CGROUP_DEVICE
 * program: 1 (allow) or 0 (deny) per request, the last matching rule winning, deny when no rule
 * covers the request.
 *
 * @example
 * ```ts
 * const insns = deviceFilterProgram([
 *   { allow: false, type: "a", major: -1, minor: -1, access: ACC_ALL },
 *   { allow: true, type: "c", major: 1, minor: 3, access: ACC_ALL }, // /dev/null
 * ]);
 * insns.byteLength / 8; // 13 instructions
 * ```
 */
export function deviceFilterProgram(rules: readonly DeviceRule[]): Uint8Array {
  const out: BpfInsn[] = [
    insn(LDX_MEM_W, 2, 1, 0, 0), // r2 = ctx->access_type
    insn(ALU32_AND_K, 2, 0, 0, 0xffff), // r2 &= 0xffff: device type
    insn(LDX_MEM_W, 3, 1, 0, 0), // r3 = ctx->access_type
    insn(ALU32_RSH_K, 3, 0, 0, 16), // r3 >>= 16: requested accesses
    insn(LDX_MEM_W, 4, 1, 4, 0), // r4 = ctx->major
    insn(LDX_MEM_W, 5, 1, 8, 0), // r5 = ctx->minor
  ];
  for (let k = rules.length - 1; k >= 0; k--) {
    const r = rules[k]!;
    if (r.access === 0) continue; // matches no request
    out.push(...ruleBlock(r));
    const everything = r.type === "a" && r.major === -1 && r.minor === -1 &&
      r.access === ACC_ALL;
    if (everything) return encodeInsns(out); // the rules before it are never reached
  }
  out.push(...ret(0));
  return encodeInsns(out);
}

function errCodeOf(e: unknown): string | undefined {
  return e instanceof SyscallError ? e.code : undefined;
}

/**
 * Enforces device rules on a cgroup2 directory: loads the filter for `rules`, attaches it with
 * BPF_F_ALLOW_MULTI, then detaches the device programs runts attached there before (found by
 * their name, {@linkcode DEVICE_PROGRAM_NAME}; programs of others are left alone). The new
 * program is attached before the old ones go, so the cgroup is never without a filter. The
 * program's fd is closed: the attachment keeps it loaded until the cgroup is removed. With
 * `rules` undefined (allow everything), nothing is attached and runts' programs are detached.
 *
 * @throws {CgroupError} `linux.resources.devices: ...` when the kernel refuses (no CAP_BPF or
 * CAP_SYS_ADMIN: EPERM; not a cgroup2 directory: EBADF; the verifier's log when rejected)
 */
export function applyDeviceProgram(
  cgroupDir: string,
  rules: readonly DeviceRule[] | undefined,
): void {
  const insns = rules === undefined ? undefined : deviceFilterProgram(rules);
  const where = JSON.stringify(cgroupDir);
  let dirFd: number;
  try {
    dirFd = openPath(cgroupDir, 0o200000 /* O_DIRECTORY | O_RDONLY */);
  } catch (e) {
    throw new CgroupError(R, `opening the cgroup ${where}: ${(e as Error).message}`, {
      path: cgroupDir,
      ...(errCodeOf(e) ? { code: errCodeOf(e)! } : {}),
    });
  }
  let step = "listing the device programs of";
  try {
    const old = progQuery(dirFd, BPF_CGROUP_DEVICE).ids;
    if (insns !== undefined) {
      step = "loading the device filter for";
      const progFd = progLoad({
        type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insns,
        license: DEVICE_PROGRAM_LICENSE,
        name: DEVICE_PROGRAM_NAME,
      });
      try {
        step = "attaching the device filter to";
        progAttach({
          targetFd: dirFd,
          progFd,
          attachType: BPF_CGROUP_DEVICE,
          flags: BPF_F_ALLOW_MULTI,
        });
      } finally {
        closeFd(progFd);
      }
    }
    step = "detaching the previous device filter from";
    for (const id of old) {
      withProgById(id, (fd) => {
        if (progInfo(fd).name !== DEVICE_PROGRAM_NAME) return;
        try {
          progDetach({ targetFd: dirFd, progFd: fd, attachType: BPF_CGROUP_DEVICE });
        } catch (e) {
          if (errCodeOf(e) !== "ENOENT") throw e; // detached meanwhile
        }
      });
    }
  } catch (e) {
    if (e instanceof CgroupError) throw e;
    const code = errCodeOf(e);
    throw new CgroupError(R, `${step} the cgroup ${where}: ${(e as Error).message}`, {
      path: cgroupDir,
      ...(code !== undefined ? { code } : {}),
    });
  } finally {
    closeFd(dirFd);
  }
}

/** The ids of the device programs runts attached to a cgroup2 directory (for tests, debug). */
export function attachedDevicePrograms(cgroupDir: string): number[] {
  const dirFd = openPath(cgroupDir, 0o200000);
  try {
    return progQuery(dirFd, BPF_CGROUP_DEVICE).ids.filter((id) =>
      withProgById(id, (fd) => progInfo(fd).name === DEVICE_PROGRAM_NAME) === true
    );
  } finally {
    closeFd(dirFd);
  }
}
