import { assertEquals, assertThrows } from "../../tests/assert.ts";
import { checkRootOwner, defaultRoot } from "./context.ts";

Deno.test("defaultRoot() is /run/runts for root and $XDG_RUNTIME_DIR/runts for a user", () => {
  const host = { userNs: false, user: undefined };
  assertEquals(defaultRoot({ ...host, uid: 0, xdgRuntimeDir: undefined }), "/run/runts");
  assertEquals(defaultRoot({ ...host, uid: 0, xdgRuntimeDir: "/run/user/0" }), "/run/runts");
  assertEquals(
    defaultRoot({ ...host, uid: 1000, xdgRuntimeDir: "/run/user/1000" }),
    "/run/user/1000/runts",
  );
  assertEquals(
    defaultRoot({ ...host, uid: 1000, xdgRuntimeDir: "/run/user/1000/" }),
    "/run/user/1000/runts",
  );
});

Deno.test("defaultRoot() for uid 0 of a user namespace (rootless podman) follows XDG_RUNTIME_DIR", () => {
  const ns = { uid: 0, userNs: true };
  assertEquals(
    defaultRoot({ ...ns, xdgRuntimeDir: "/run/user/1000", user: undefined }),
    "/run/user/1000/runts",
  );
  assertEquals(
    defaultRoot({ ...ns, xdgRuntimeDir: "/run/user/1000", user: "alice" }),
    "/run/user/1000/runts",
  );
  assertEquals(defaultRoot({ ...ns, xdgRuntimeDir: "/run/user/1000", user: "root" }), "/run/runts");
  assertEquals(defaultRoot({ ...ns, xdgRuntimeDir: undefined, user: undefined }), "/run/runts");
});

Deno.test("defaultRoot() without XDG_RUNTIME_DIR names the variable and --root", () => {
  for (const v of [undefined, ""]) {
    assertThrows(
      () => defaultRoot({ uid: 1000, xdgRuntimeDir: v, userNs: false }),
      Error,
      "XDG_RUNTIME_DIR is not set: a non-root user (uid 1000) keeps container state in $XDG_RUNTIME_DIR/runts; set it or give --root DIR",
    );
  }
  assertThrows(
    () => defaultRoot({ uid: 1000, xdgRuntimeDir: "run/x" }),
    Error,
    'XDG_RUNTIME_DIR "run/x" is not an absolute path',
  );
});

Deno.test("checkRootOwner() refuses another user's state directory, not a missing one", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const owner = Deno.statSync(dir).uid!;
    checkRootOwner(dir, owner);
    checkRootOwner(`${dir}/missing`, owner + 1);
    checkRootOwner(dir, 0);
    assertThrows(
      () => checkRootOwner(dir, owner + 4242),
      Error,
      `state directory "${dir}" is owned by uid ${owner}, not by the caller (uid ${
        owner + 4242
      }); use your own --root`,
    );
  } finally {
    Deno.removeSync(dir);
  }
});
