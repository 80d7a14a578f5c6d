/**
 * The process's credentials: capability sets (bounding, effective, permitted, inheritable,
 * ambient), supplementary groups, gid and uid.
 * @module
 */
import { capData, capHeader, gidArray } from "../../../ffi/structs/kernel.ts";
import { SYS } from "../../../ffi/sysno_x86_64.ts";
import { CAPS, E, PR } from "../consts.ts";
import type { Builder } from "./builder.ts";

/** Bounding set, groups, gid, uid, then the capability sets and ambient capabilities. */
export function credentials(b: Builder): void {
  const proc = b.spec.process!;
  const user = proc.user ?? { uid: 0, gid: 0 };
  const caps = proc.capabilities;
  const last = b.o.lastCap ?? CAPS.length - 1;
  const mask = (names: string[] | undefined) =>
    (names ?? []).reduce((m, n) => {
      const i = CAPS.indexOf(n);
      return i < 0 || i > last ? m : m | (1n << BigInt(i));
    }, 0n);
  if (caps !== undefined) {
    const bounding = mask(caps.bounding);
    for (let i = 0; i <= last; i++) {
      if (bounding & (1n << BigInt(i))) continue;
      b.call("prctl", SYS.prctl, [PR.CAPBSET_DROP, i, 0, 0, 0], {
        ok: [E.EINVAL],
        subject: `PR_CAPBSET_DROP ${CAPS[i]}`,
      });
    }
    b.call("prctl", SYS.prctl, [PR.SET_KEEPCAPS, 1, 0, 0, 0], { subject: "PR_SET_KEEPCAPS" });
  }
  const gids = user.additionalGids ?? [];
  b.call("setgroups", SYS.setgroups, [gids.length, gidArray(gids)], {
    ...(b.o.setgroupsDenied && gids.length === 0 ? { ok: [E.EPERM] } : {}),
    subject: `process.user.additionalGids ${JSON.stringify(gids)}`,
  });
  b.call("setresgid", SYS.setresgid, [user.gid, user.gid, user.gid], {
    subject: `process.user.gid ${user.gid}`,
  });
  b.call("setresuid", SYS.setresuid, [user.uid, user.uid, user.uid], {
    subject: `process.user.uid ${user.uid}`,
  });
  if (caps !== undefined) {
    b.call("prctl", SYS.prctl, [PR.SET_KEEPCAPS, 0, 0, 0, 0], { subject: "PR_SET_KEEPCAPS" });
    b.call("capset", SYS.capset, [
      capHeader(),
      capData(mask(caps.effective), mask(caps.permitted), mask(caps.inheritable)),
    ], { subject: "process.capabilities" });
    const ambient = caps.ambient ?? [];
    for (const name of ambient) {
      const i = CAPS.indexOf(name);
      if (i < 0 || i > last) continue;
      // Raising fails (EPERM) unless the capability is also inheritable: ignored, as runc.
      b.call("prctl", SYS.prctl, [PR.CAP_AMBIENT, PR.CAP_AMBIENT_RAISE, i, 0, 0], {
        ok: [E.EPERM],
        subject: `ambient ${name}`,
      });
    }
  }
}
