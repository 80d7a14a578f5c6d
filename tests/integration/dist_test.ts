/**
 * `deno task dist` → install.sh into a temporary prefix → runts used from there in a private
 * mount namespace where the checkout is covered by an empty tmpfs and the environment is empty
 * (no PATH, no HOME, no DENO_DIR): `runts check`, a foreground run, create/start/delete through
 * a sandbox process; then uninstall leaves the prefix empty.
 */
import { assert, assertEquals, assertStringIncludes } from "../assert.ts";
import { REPO, ROOTFS } from "./_helpers.ts";
import { VERSION } from "../../src/version.ts";

const unshare = ["/usr/bin/unshare", "/bin/unshare"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (Deno.uid() === 0 && unshare === undefined) console.log("dist_test: no unshare(1), skipped");

async function sh(script: string): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("/bin/sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout) + d.decode(r.stderr) };
}

Deno.test({
  name: "the dist tarball installs under a prefix and runs containers without the checkout",
  ignore: Deno.uid() !== 0 || unshare === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "runts-dist-test-" });
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--no-config", `${REPO}/scripts/dist.ts`, "--out", `${tmp}/out`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(built.success, new TextDecoder().decode(built.stderr));
      const tarball = `${tmp}/out/runts-${VERSION}-linux-x86_64.tar.gz`;
      assertEquals(new TextDecoder().decode(built.stdout).trim(), tarball);
      const prefix = `${tmp}/prefix`;
      const inst = await sh(
        `tar -xzf ${tarball} -C ${tmp} && ${tmp}/runts-${VERSION}-linux-x86_64/install.sh --prefix ${prefix}`,
      );
      assertEquals(inst, {
        code: 0,
        out:
          `runts installed: ${prefix}/bin/runts (remove with ${prefix}/lib/runts/uninstall.sh)\n`,
      });
      // Nothing installed points back at the checkout.
      const refs = await sh(
        `grep -rlF '${REPO}' ${prefix}/bin ${prefix}/share ${prefix}/lib/runts/runts.js`,
      );
      assertEquals(refs, { code: 1, out: "" });
      // A bundle outside the checkout, its own copy of the rootfs.
      const bundle = `${tmp}/bundle`;
      await Deno.mkdir(bundle);
      assertEquals((await sh(`cp -a ${ROOTFS} ${bundle}/rootfs`)).code, 0);
      const spec = JSON.parse(
        (await sh(`cd ${bundle} && env -i ${prefix}/bin/runts spec && cat config.json`)).out,
      );
      assertEquals(spec.hostname, "runts");
      spec.process.terminal = false;
      spec.process.args = ["sh", "-c", "echo hello from $(hostname); exit 5"];
      await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec));
      const runts = `env -i ${prefix}/bin/runts --root ${tmp}/state`;
      const id = `w15-dist-${Deno.pid}`;
      const r = await sh(`${unshare} --mount --propagation private sh -c '
        mount -t tmpfs tmpfs ${REPO} || exit 100
        [ -e ${REPO}/main.ts ] && exit 101
        ${runts} check > ${tmp}/check.txt; echo "check=$?"
        ${runts} run -b ${bundle} ${id}; echo "run=$?"
        ${runts} create -b ${bundle} ${id} > ${tmp}/create.out 2>&1; echo "create=$?"
        ${runts} state ${id} | grep -o "\\"status\\": \\"[a-z]*\\""
        ${runts} start ${id}; echo "start=$?"
        ${runts} delete -f ${id}; echo "delete=$?"
        ls ${tmp}/state'`);
      assertEquals(
        r.out,
        'check=0\nhello from runts\nrun=5\ncreate=0\n"status": "created"\nstart=0\ndelete=0\n',
      );
      assertStringIncludes(
        await Deno.readTextFile(`${tmp}/check.txt`),
        "runts run can run containers on this host",
      );
      const un = await sh(
        `${tmp}/runts-${VERSION}-linux-x86_64/install.sh --uninstall --prefix ${prefix}`,
      );
      assertEquals(un, { code: 0, out: `runts removed from ${prefix}\n` });
      assertEquals((await sh(`find ${prefix} -type f`)).out, "");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
