/** The integration-test helpers themselves: the bundle they write and the shared rootfs. */
import { assert, assertEquals } from "../assert.ts";
import { leftovers, makeBundle, MARKER, newRoot, ROOTFS } from "./_helpers.ts";

const ignore = Deno.uid() !== 0;

Deno.test({
  name: "makeBundle writes a parseable config.json on the shared rootfs",
  ignore,
  async fn() {
    const b = await makeBundle({
      args: ["sh", "-c", "true"],
      mutate(s) {
        s.hostname = "h";
      },
    });
    try {
      const spec = JSON.parse(await Deno.readTextFile(`${b.dir}/config.json`));
      assertEquals(spec.process.args, ["sh", "-c", "true"]);
      assertEquals(spec.process.terminal, false);
      assertEquals(spec.hostname, "h");
      assertEquals(spec.root, { path: ROOTFS, readonly: false });
      assert(spec.process.env.includes(`${MARKER}=${b.dir}`));
      assertEquals(
        spec.linux.namespaces.map((n: { type: string }) => n.type),
        ["pid", "network", "ipc", "uts", "mount"],
      );
    } finally {
      await b.cleanup();
    }
    assert(!(await Deno.stat(b.dir).then(() => true, () => false)), "cleanup removes the bundle");
  },
});

Deno.test({
  name: "the shared rootfs has busybox's /bin/sh and /etc/passwd",
  ignore,
  async fn() {
    assertEquals(await Deno.readLink(`${ROOTFS}/bin/sh`), "busybox");
    assert((await Deno.stat(`${ROOTFS}/bin/busybox`)).mode! & 0o111);
    assert((await Deno.readTextFile(`${ROOTFS}/etc/passwd`)).startsWith("root:x:0:0:"));
  },
});

Deno.test({
  name: "leftovers of a fresh root and a copied-rootfs bundle are empty",
  ignore,
  async fn() {
    const root = await newRoot();
    const b = await makeBundle({ args: ["true"], copyRootfs: true });
    try {
      const spec = JSON.parse(await Deno.readTextFile(`${b.dir}/config.json`));
      assertEquals(spec.root.path, "rootfs");
      assertEquals(await Deno.readLink(`${b.dir}/rootfs/bin/sh`), "busybox");
      assertEquals(await leftovers(root), { dirs: [], mounts: [], processes: [] });
    } finally {
      await b.cleanup();
    }
  },
});
