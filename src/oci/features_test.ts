import { assert, assertEquals } from "../../tests/assert.ts";
import { ALL_CAPABILITIES, featuresDocument as document } from "./features.ts";
import { mountOptionNames, parseMountOptions } from "../linux/mount_options.ts";

const MOUNT_OPTIONS = mountOptionNames();
const featuresDocument = () => document({ mountOptions: MOUNT_OPTIONS });
import { NAMESPACE_TYPES } from "./spec.ts";

Deno.test("ALL_CAPABILITIES is indexed by capability number (CAP_CHOWN=0 ... CAP_CHECKPOINT_RESTORE=40)", () => {
  assertEquals(ALL_CAPABILITIES.length, 41);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_CHOWN"), 0);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_SETPCAP"), 8);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_NET_ADMIN"), 12);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_SYS_ADMIN"), 21);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_MKNOD"), 27);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_AUDIT_READ"), 37);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_PERFMON"), 38);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_BPF"), 39);
  assertEquals(ALL_CAPABILITIES.indexOf("CAP_CHECKPOINT_RESTORE"), 40);
  assertEquals(new Set(ALL_CAPABILITIES).size, 41);
});

Deno.test("ALL_CAPABILITIES names every capability this kernel knows", () => {
  let last: number;
  try {
    last = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim());
  } catch {
    return; // no procfs here
  }
  assert(
    last < ALL_CAPABILITIES.length,
    `the kernel knows capability ${last}, ALL_CAPABILITIES stops at ${ALL_CAPABILITIES.length - 1}`,
  );
});

Deno.test("featuresDocument() claims only what runts implements", () => {
  const f = featuresDocument();
  assertEquals(f.ociVersionMin, "1.0.0");
  assertEquals(f.ociVersionMax, "1.2.0");
  assertEquals(f.hooks, [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
  ]);
  assertEquals(f.linux.namespaces, [...NAMESPACE_TYPES].sort());
  assertEquals(f.linux.namespaces.length, 8);
  assertEquals(f.linux.capabilities, [...ALL_CAPABILITIES]);
  assertEquals(f.linux.cgroup, {
    v1: true,
    v2: true,
    systemd: true,
    systemdUser: false,
    rdma: false,
  });
  assertEquals(f.linux.seccomp.enabled, true);
  assert(f.linux.seccomp.actions?.includes("SCMP_ACT_NOTIFY"));
  assert(f.linux.seccomp.operators?.includes("SCMP_CMP_MASKED_EQ"));
  assertEquals(f.linux.apparmor, { enabled: false });
  assertEquals(f.linux.selinux, { enabled: false });
  assertEquals(f.linux.intelRdt, { enabled: false });
  assertEquals(f.linux.mountExtensions, { idmap: { enabled: false } });
  assertEquals(Object.keys(f.annotations), ["io.github.runts.version"]);
});

Deno.test("featuresDocument() lists mount options without filesystem data", () => {
  const opts = featuresDocument().mountOptions;
  for (
    const o of ["ro", "rw", "bind", "rbind", "rprivate", "runbindable", "strictatime", "nodiratime"]
  ) {
    assert(opts.includes(o), o);
  }
  assertEquals(opts.filter((o) => o.includes("=")), []);
  assertEquals(opts, [...opts].sort());
  assertEquals(new Set(MOUNT_OPTIONS).size, MOUNT_OPTIONS.length);
  // every name listed is the parser's own: none reaches the filesystem as data, but the
  // superblock flags, which a new filesystem takes from fsconfig
  const SB = ["async", "dirsync", "lazytime", "nolazytime", "sync"];
  for (const o of opts) {
    assertEquals(parseMountOptions([o]).data, SB.includes(o) ? [[o, undefined]] : [], o);
  }
});

Deno.test("featuresDocument() returns a fresh document each call", () => {
  const a = featuresDocument();
  a.linux.capabilities.pop();
  a.hooks.pop();
  assertEquals(featuresDocument().linux.capabilities.length, 41);
  assertEquals(featuresDocument().hooks.length, 6);
});
