/**
 * Finding a container's processes on the host: those in the init's pid namespace when the
 * container has one of its own, otherwise the init and its descendants.
 * @module
 */

/** Field 22 (starttime) of /proc/<pid>/stat, or undefined when the pid does not exist. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Process state letter (R, S, D, Z, T...) of /proc/<pid>/stat. */
export function procState(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

function readlink(path: string): string | undefined {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return undefined;
  }
}

function ppid(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const n = Number(e.name);
    if (Number.isInteger(n) && n > 0) out.push(n);
  }
  return out.sort((a, b) => a - b);
}

/** Host pids of the processes of the container whose init is `initPid`, the init first. */
export function containerPids(initPid: number): number[] {
  const ns = readlink(`/proc/${initPid}/ns/pid`);
  if (ns === undefined) return [];
  const own = readlink("/proc/self/ns/pid");
  const pids = allPids();
  if (ns !== own) {
    return [initPid, ...pids.filter((p) => p !== initPid && readlink(`/proc/${p}/ns/pid`) === ns)];
  }
  const parent = new Map(pids.map((p) => [p, ppid(p)]));
  const tree = new Set([initPid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parent) {
      if (!tree.has(p) && pp !== undefined && tree.has(pp)) {
        tree.add(p);
        grew = true;
      }
    }
  }
  return [initPid, ...[...tree].filter((p) => p !== initPid)];
}
