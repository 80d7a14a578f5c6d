import { assertEquals, assertThrows } from "../../tests/assert.ts";
import {
  cmsgAlign,
  cmsgLen,
  cmsgSpace,
  decodeCmsghdr,
  decodeIovec,
  decodeMsghdr,
  decodeUcred,
  encodeCmsghdr,
  encodeIovec,
  encodeMsghdr,
  encodeSockaddrUn,
  encodeUcred,
  LAYOUTS,
  MSGHDR,
} from "./msghdr.ts";

// The C numbers, from <sys/socket.h>, <sys/uio.h>, <sys/un.h> and <poll.h> on LP64 glibc and
// musl (x86_64 and aarch64 agree).
const EXPECTED = {
  iovec: { SIZE: 16, BASE: 0, LEN: 8 },
  msghdr: {
    SIZE: 56,
    NAME: 0,
    NAMELEN: 8,
    IOV: 16,
    IOVLEN: 24,
    CONTROL: 32,
    CONTROLLEN: 40,
    FLAGS: 48,
  },
  cmsghdr: { SIZE: 16, LEN: 0, LEVEL: 8, TYPE: 12, ALIGN: 8 },
  ucred: { SIZE: 12, PID: 0, UID: 4, GID: 8 },
  sockaddrUn: { SIZE: 110, FAMILY: 0, PATH: 2, PATH_MAX: 108 },
  pollfd: { SIZE: 8, FD: 0, EVENTS: 4, REVENTS: 6 },
};

Deno.test("LAYOUTS pins sizes and offsets for x86_64 and aarch64", async (t) => {
  await t.step("x86_64", () => {
    // struct epoll_event is packed on x86_64.
    assertEquals(LAYOUTS.x86_64, { ...EXPECTED, epollEvent: { SIZE: 12, EVENTS: 0, DATA: 4 } });
  });
  await t.step("aarch64", () => {
    assertEquals(LAYOUTS.aarch64, { ...EXPECTED, epollEvent: { SIZE: 16, EVENTS: 0, DATA: 8 } });
  });
});

Deno.test("cmsgSpace() and cmsgLen() match CMSG_SPACE and CMSG_LEN", async (t) => {
  const cases: [number, number, number][] = [
    // data bytes, CMSG_LEN, CMSG_SPACE
    [0, 16, 16],
    [4, 20, 24],
    [8, 24, 24],
    [12, 28, 32],
    [64, 80, 80],
    [1012, 1028, 1032],
  ];
  for (const [n, len, space] of cases) {
    await t.step(`${n} bytes`, () => {
      assertEquals(cmsgLen(n), len);
      assertEquals(cmsgSpace(n), space);
    });
  }
  assertEquals(cmsgAlign(13), 16);
});

Deno.test("encodeMsghdr() and decodeMsghdr() round-trip at the C offsets", () => {
  const b = new Uint8Array(MSGHDR.SIZE);
  const dv = new DataView(b.buffer);
  const m = {
    name: 0x1111n,
    namelen: 110,
    iov: 0x2222n,
    iovlen: 1,
    control: 0x3333n,
    controllen: 24,
    flags: 0x20,
  };
  encodeMsghdr(dv, 0, m);
  assertEquals(decodeMsghdr(dv, 0), m);
  assertEquals(dv.getBigUint64(16, true), 0x2222n);
  assertEquals(dv.getBigUint64(40, true), 24n);
  assertEquals(dv.getInt32(48, true), 0x20);
});

Deno.test("encodeIovec(), encodeCmsghdr() and encodeUcred() round-trip", () => {
  const dv = new DataView(new ArrayBuffer(64));
  encodeIovec(dv, 8, { base: 0xdeadbeefn, len: 42 });
  assertEquals(decodeIovec(dv, 8), { base: 0xdeadbeefn, len: 42 });
  encodeCmsghdr(dv, 24, { len: 20, level: 1, type: 1 });
  assertEquals(decodeCmsghdr(dv, 24), { len: 20, level: 1, type: 1 });
  encodeUcred(dv, 40, { pid: 7, uid: 1000, gid: 4294967294 });
  assertEquals(decodeUcred(dv, 40), { pid: 7, uid: 1000, gid: 4294967294 });
});

Deno.test("encodeSockaddrUn() writes AF_UNIX and a NUL-terminated path", () => {
  const { addr, len } = encodeSockaddrUn(new TextEncoder().encode("/run/x"));
  assertEquals(addr.byteLength, 110);
  assertEquals([addr[0], addr[1]], [1, 0]);
  assertEquals(new TextDecoder().decode(addr.subarray(2, 8)), "/run/x");
  assertEquals(addr[8], 0);
  assertEquals(len, 2 + 6 + 1);
});

Deno.test("encodeSockaddrUn() rejects an empty path, a path of 108 bytes and a NUL", () => {
  assertThrows(() => encodeSockaddrUn(new Uint8Array(0)), RangeError, "0 bytes");
  assertThrows(() => encodeSockaddrUn(new Uint8Array(108).fill(97)), RangeError, "108 bytes");
  assertThrows(() => encodeSockaddrUn(new Uint8Array([97, 0, 98])), RangeError, "NUL");
});

const C_PROBE = `#define _GNU_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
int main(void) {
  printf("%zu %zu %zu\\n", sizeof(struct iovec), offsetof(struct iovec, iov_base),
    offsetof(struct iovec, iov_len));
  printf("%zu %zu %zu %zu %zu %zu %zu %zu\\n", sizeof(struct msghdr),
    offsetof(struct msghdr, msg_name), offsetof(struct msghdr, msg_namelen),
    offsetof(struct msghdr, msg_iov), offsetof(struct msghdr, msg_iovlen),
    offsetof(struct msghdr, msg_control), offsetof(struct msghdr, msg_controllen),
    offsetof(struct msghdr, msg_flags));
  printf("%zu %zu %zu %zu %zu\\n", sizeof(struct cmsghdr), offsetof(struct cmsghdr, cmsg_len),
    offsetof(struct cmsghdr, cmsg_level), offsetof(struct cmsghdr, cmsg_type),
    (size_t)CMSG_LEN(0));
  printf("%zu %zu %zu %zu\\n", sizeof(struct ucred), offsetof(struct ucred, pid),
    offsetof(struct ucred, uid), offsetof(struct ucred, gid));
  printf("%zu %zu %zu %zu\\n", sizeof(struct sockaddr_un),
    offsetof(struct sockaddr_un, sun_family), offsetof(struct sockaddr_un, sun_path),
    sizeof(((struct sockaddr_un *)0)->sun_path));
  printf("%zu %zu %zu %zu\\n", sizeof(struct pollfd), offsetof(struct pollfd, fd),
    offsetof(struct pollfd, events), offsetof(struct pollfd, revents));
  printf("%zu %zu %zu\\n", sizeof(struct epoll_event), offsetof(struct epoll_event, events),
    offsetof(struct epoll_event, data));
  printf("%zu %zu\\n", (size_t)CMSG_SPACE(4), (size_t)CMSG_SPACE(12));
  return 0;
}
`;

function haveCc(): boolean {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "LAYOUTS agrees with the C compiler of this machine",
  ignore: !haveCc(),
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/probe.c`, C_PROBE);
      const cc = await new Deno.Command("cc", { args: ["-o", `${dir}/probe`, `${dir}/probe.c`] })
        .output();
      assertEquals(cc.success, true, new TextDecoder().decode(cc.stderr));
      const out = await new Deno.Command(`${dir}/probe`).output();
      const rows = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
        l.split(" ").map(Number)
      );
      const L = LAYOUTS[Deno.build.arch];
      const { iovec: i, msghdr: m, cmsghdr: c, ucred: u, sockaddrUn: s, pollfd: p } = L;
      const e = L.epollEvent;
      assertEquals(rows, [
        [i.SIZE, i.BASE, i.LEN],
        [m.SIZE, m.NAME, m.NAMELEN, m.IOV, m.IOVLEN, m.CONTROL, m.CONTROLLEN, m.FLAGS],
        [c.SIZE, c.LEN, c.LEVEL, c.TYPE, cmsgLen(0)],
        [u.SIZE, u.PID, u.UID, u.GID],
        [s.SIZE, s.FAMILY, s.PATH, s.PATH_MAX],
        [p.SIZE, p.FD, p.EVENTS, p.REVENTS],
        [e.SIZE, e.EVENTS, e.DATA],
        [cmsgSpace(4), cmsgSpace(12)],
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
