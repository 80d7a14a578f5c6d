/** A short hash for names: FNV-1a, 32 bits. @module */

/** FNV-1a of the UTF-16 code units of `s`, as 8 hex digits. */
export function fnv1a32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, "0");
}
