/**
 * `runts run [--bundle DIR] [--detach] [--pid-file F] ... ID`: create and start a container.
 * In the foreground this process is the sandbox process itself (one Deno start instead of two):
 * it serves the control socket, waits for the init and returns its exit code.
 * @module
 */
import { mark } from "../trace.ts";
import { closeFd, pidfdSignal } from "../../ffi/process.ts";
import { selectPlatform } from "../kvm/platform.ts";
import { listenUnix } from "../../ffi/socket.ts";
import { connectConsoleSocket, consolePair, receiveMaster, relay } from "../linux/console.ts";
import { startTime } from "../linux/procs.ts";
import { FORWARDED_SIGNALS } from "../linux/signals.ts";
import { loadBundle } from "../oci/config.ts";
import { ContainerManager } from "../boot/containers.ts";
import { serveControl } from "../boot/serve.ts";
import type { RpcServer } from "../rpc/server.ts";
import { Container } from "../container/container.ts";
import { validateId } from "../container/record.ts";
import { claim, createContainer, sandboxIdOf } from "../container/create.ts";
import { checkPidFile, writePidFile } from "../container/pidfile.ts";
import { deleteContainer, poststop } from "../container/delete.ts";
import { startContainer } from "../container/start.ts";
import { waitContainer } from "../container/wait.ts";
import type { GlobalOptions } from "./context.ts";
import { type CreateArgs, parseCreateArgs } from "./create.ts";

/** Runs run. */
export async function main(g: GlobalOptions, argv: string[]): Promise<number> {
  const { args, flags } = parseCreateArgs(argv, "run");
  if (args.pidFile !== undefined) checkPidFile(args.pidFile);
  if (flags.detach === true) {
    await createContainer(g, args);
    await startContainer(g, args.id);
    return 0;
  }
  mark("run: modules loaded");
  validateId(args.id);
  const loaded = loadBundle(args.bundle);
  if (sandboxIdOf(loaded.spec.annotations) !== undefined) return await runInSandbox(g, args);
  // kvm: the device goes to a sandbox process, never to this one.
  if (selectPlatform(g.platform, loaded.spec.annotations) === "kvm") {
    return await runInSandbox(g, args);
  }
  // This process is the sandbox process: the record names it from the start.
  const self = { sandboxPid: Deno.pid, sandboxStartTime: startTime(Deno.pid) ?? "" };
  const { store, rec, spec } = await claim(g, args, self, loaded);
  const { bundle, rootfs } = rec;
  const terminal = spec.process?.terminal === true;
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
    const listenFd = listenUnix(rec.socketPath, { mode: 0o600, backlog: 16 });
    const control = serveControl(mgr, listenFd);
    server = control.server;
    control.served.catch(() => {});
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
    for (const [sig, num] of FORWARDED_SIGNALS) {
      const fn = () => {
        try {
          pidfdSignal(init.pidfd, num);
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
      await poststop(Container.of(store, rec));
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
  await createContainer(g, args);
  try {
    await startContainer(g, args.id);
    return (await waitContainer(g, args.id)).result.code ?? 0;
  } finally {
    await deleteContainer(g, args.id, true);
  }
}
