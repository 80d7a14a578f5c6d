/** `runts list [--format table|json] [-q]`. @module */
import { parseCommandArgs } from "./defs.ts";
import { ContainerStore } from "../container/record.ts";
import { ociState } from "../sandbox/lifecycle.ts";
import { userNames } from "./ps.ts";
import type { GlobalOptions } from "./context.ts";

/** Runs list. */
export function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const { values } = parseCommandArgs("list", argv);
  const format = values.format as string;
  if (format !== "table" && format !== "json") {
    throw new Error(`list: --format must be "table" or "json", not ${JSON.stringify(format)}`);
  }
  const store = new ContainerStore(g.root);
  const names = userNames();
  const states = store.list().map((rec) => {
    // runc's list shows the owner of the state directory (its state shows "").
    let owner = rec.owner;
    try {
      const uid = Deno.statSync(store.dir(rec.id)).uid ?? 0;
      owner = names.get(uid) ?? String(uid);
    } catch {
      // gone meanwhile
    }
    return { ...ociState(rec), owner } as ReturnType<typeof ociState>;
  });
  if (values.quiet) {
    for (const s of states) console.log(s.id);
  } else if (format === "json") {
    console.log(JSON.stringify(states));
  } else {
    const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
    for (const s of states) {
      rows.push([s.id, String(s.pid ?? 0), s.status, s.bundle, String(s.created), String(s.owner)]);
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]! + 2)).join("").trimEnd());
  }
  return Promise.resolve(0);
}
