import { assertEquals } from "../tests/assert.ts";
import { GUEST_IMAGES } from "./kvm_guests_x86_64.ts";

const haveAs = (() => {
  try {
    return new Deno.Command("as", { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "kvm_guests_x86_64.ts holds exactly what ffi/asm/kvm_*.S assemble to (guests and stop handler)",
  ignore: !haveAs,
  fn() {
    const script = new URL("./asm/assemble_kvm.sh", import.meta.url).pathname;
    const out = new Deno.Command("bash", { args: [script] }).outputSync();
    assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
    const text = new TextDecoder().decode(out.stdout);
    const hexes = [...text.matchAll(/hex: "([0-9a-f]+)"/g)].map((m) => m[1]);
    const loads = [...text.matchAll(/load: (0x[0-9a-f]+)/g)].map((m) => Number(m[1]));
    const imgs = [GUEST_IMAGES.real, GUEST_IMAGES.long, GUEST_IMAGES.syscall, GUEST_IMAGES.signal];
    assertEquals(hexes, imgs.map((i) => i.hex));
    assertEquals(loads, imgs.map((i) => i.load));
  },
});

Deno.test("GUEST_IMAGES: load addresses and entry labels the VMM relies on", () => {
  assertEquals(GUEST_IMAGES.real.load, 0x1000);
  assertEquals(GUEST_IMAGES.real.labels.hello, 0);
  assertEquals(typeof GUEST_IMAGES.real.labels.spin, "number");
  assertEquals(typeof GUEST_IMAGES.real.labels.pio_loop, "number");
  assertEquals(GUEST_IMAGES.long.load, 0x10000);
  assertEquals(GUEST_IMAGES.syscall.labels.start, 0);
  assertEquals(typeof GUEST_IMAGES.syscall.labels.user, "number");
});
