/**
 * `runts run [--bundle DIR] [--detach] [--pid-file F] ... ID`: create and start a container.
 * In the foreground this process is the sandbox process itself (one Deno start instead of two):
 * it serves the control socket, waits for the init and returns its exit code.
 * @module
 */
import { mark } from "../trace.ts";
import { closeFd, pidfdSignal } from "../../ffi/process.ts";
import { connectConsoleSocket, consolePair, receiveMaster, relay } from "../linux/console.ts";
import { ContainerManager } from "../boot/containers.ts";
import { pinSystemdCgroupsPath } from "../cgroup/manager.ts";
import { registerHandlers } from "../boot/handlers.ts";
import { ContainerStore } from "../container/record.ts";
import { listenUnix } from "../../ffi/socket.ts";
import { startTime } from "../linux/procs.ts";
import { loadBundle } from "../oci/config.ts";
import { selectPlatform } from "../kvm/platform.ts";
import { RpcServer } from "../rpc/server.ts";
import {
  checkPidFile,
  createContainer,
  deleteContainer,
  loadContainer,
  paths,
  poststop,
  sandboxIdOf,
  startContainer,
  writePidFile,
} from "../sandbox/lifecycle.ts";
import type { GlobalOptions } from "./context.ts";
import { type CreateArgs, parseCreateArgs } from "./create.ts";
import { RpcClient } from "../rpc/client.ts";
import * as M from "../rpc/methods.ts";

const FORWARDED: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
const SIGNUM: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

/** Runs run. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const { args, flags } = parseCreateArgs(argv, "run");
  if (args.pidFile !== undefined) checkPidFile(args.pidFile);
  if (flags.detach === true) {
    await createContainer(g, { ...args, detach: true });
    await startContainer(g, args.id);
    return 0;
  }
  mark("run: modules loaded");
  const store = new ContainerStore(g.root);
  store.validateId(args.id);
  const { spec, rootfs, bundle } = loadBundle(args.bundle);
  if (g.systemdCgroup) pinSystemdCgroupsPath(spec, args.id);
  if (sandboxIdOf(spec.annotations) !== undefined) return await runInSandbox(g, args);
  // kvm: the device goes to a sandbox process, never to this one (issue 17).
  if (selectPlatform(g.platform, spec.annotations) === "kvm") return await runInSandbox(g, args);
  const terminal = spec.process?.terminal === true;
  if (!terminal && args.consoleSocket !== undefined) {
    throw new Error("--console-socket given but process.terminal is false");
  }
  const p = paths(g.root, args.id);
  const rec = store.create(args.id, {
    id: args.id,
    bundle,
    rootfs,
    status: "creating",
    pid: 0,
    initStartTime: "",
    created: new Date().toISOString(),
    annotations: spec.annotations ?? {},
    sandboxId: args.id,
    socketPath: p.sock,
    pidFileUsed: args.pidFile !== undefined,
    owner: "",
  });
  // exec starts from the container's spec as it was created (runc keeps it in its state too).
  Deno.writeTextFileSync(`${store.dir(args.id)}/config.json`, JSON.stringify(spec), {
    mode: 0o600,
  });
  rec.sandboxPid = Deno.pid;
  rec.sandboxStartTime = startTime(Deno.pid) ?? "";
  const mgr = new ContainerManager({ systemdCgroup: g.systemdCgroup === true });
  let server: RpcServer | undefined;
  const listeners: [Deno.Signal, () => void][] = [];
  // With a terminal: the init sends its pty master to `theirs`; we relay it unless the caller
  // gave a console socket.
  let ours = -1;
  let theirs = -1;
  try {
    if (terminal && args.consoleSocket !== undefined) {
      theirs = connectConsoleSocket(args.consoleSocket);
    } else if (terminal) [ours, theirs] = consolePair();
    server = new RpcServer({ allowUid: (uid) => uid === 0 || uid === Deno.uid() });
    registerHandlers(server, mgr);
    const listenFd = listenUnix(p.sock, { mode: 0o600, backlog: 16 });
    server.serve(listenFd).catch(() => {});
    const preserve = Array.from({ length: args.preserveFds }, (_, i) => 3 + i);
    // Without start hooks the init goes straight on to execve: no start round trip.
    const startHooks = (spec.hooks?.startContainer?.length ?? 0) +
      (spec.hooks?.poststart?.length ?? 0);
    mark("run: state written, control socket listening");
    const init = await mgr.create({
      id: args.id,
      spec,
      bundle,
      rootfs,
      stdio: [0, 1, 2],
      preserveFds: preserve,
      noPivot: args.noPivot,
      startImmediately: startHooks === 0,
      ...(theirs >= 0 ? { consoleFd: theirs } : {}),
    });
    closeFd(theirs);
    theirs = -1;
    const relaying = ours >= 0 ? relay(receiveMaster(ours)) : Promise.resolve();
    for (const sig of FORWARDED) {
      const fn = () => {
        try {
          pidfdSignal(init.pidfd, SIGNUM[sig]!);
        } catch {
          // gone
        }
      };
      Deno.addSignalListener(sig, fn);
      listeners.push([sig, fn]);
    }
    rec.pid = init.pid;
    rec.initStartTime = startTime(init.pid) ?? "";
    rec.status = "running";
    store.save(rec);
    if (args.pidFile !== undefined) writePidFile(args.pidFile, init.pid);
    if (startHooks === 0) await init.started();
    else for (const w of await mgr.start(args.id)) console.error(`runts: warning: ${w}`);
    mark("run: process started");
    const status = await mgr.wait(args.id);
    mark("run: process exited");
    await relaying;
    return status?.code ?? 0;
  } finally {
    closeFd(ours);
    closeFd(theirs);
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
    mgr.onEmpty = () => {};
    // --keep: the stopped container's state and cgroup stay until `runts delete` (which runs
    // the poststop hooks then), as with runc.
    const keep = flags.keep === true;
    for (const id of mgr.ids()) await mgr.destroy(id, keep);
    server?.close();
    if (!keep) {
      await poststop(spec, { id: args.id, bundle, pid: rec.pid });
      store.remove(args.id);
    }
    mark("run: cleaned up");
  }
}

/**
 * run of a container that belongs to an existing sandbox: that sandbox's process creates it
 * (create, start), this process waits for its exit over the control socket, then deletes it.
 */
async function runInSandbox(g: GlobalOptions, args: CreateArgs): Promise<number> {
  await createContainer(g, { ...args, detach: true });
  try {
    await startContainer(g, args.id);
    const { rec } = loadContainer(g, args.id);
    const client = RpcClient.connect(rec.socketPath);
    try {
      const r = (await client.call(M.WAIT, { id: args.id } satisfies M.IdArgs)).result;
      return (r as M.WaitResult).code ?? 0;
    } finally {
      client.close();
    }
  } finally {
    await deleteContainer(g, args.id, true);
  }
}
