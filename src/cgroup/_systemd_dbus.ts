/**
 * systemd's unit API over D-Bus (org.freedesktop.systemd1.Manager), through sd-bus: start a
 * transient unit and wait for the end of its start job (systemd's JobRemoved signal), change its
 * properties, stop it and wait for the end of its stop job. Module-private to the systemd cgroup driver (src/cgroup/systemd.ts), which tests
 * itself against a recording fake of {@linkcode SystemdUnits}.
 * @module
 */
import { DbusError, type DbusValue, SdBus, type Variant } from "../../ffi/sdbus.ts";
import { CgroupError } from "./_common.ts";

/** One unit property: its name and typed value (`["MemoryMax", {sig: "t", value: 1n}]`). */
export type UnitProperty = [string, Variant];

/** What the driver asks of systemd. */
export interface SystemdUnits {
  /**
   * Starts a transient unit (mode "fail") and waits for its start job to end; unless it ended
   * `done` (the unit is active), stops and resets the unit and throws with the job's result.
   */
  start(unit: string, props: UnitProperty[]): void;
  /** Changes properties of a running unit (runtime only, as runc does). */
  set(unit: string, props: UnitProperty[]): void;
  /** Stops a unit and waits for the stop job to end (nothing when it is not loaded). */
  stop(unit: string): void;
  /** Closes the connection. */
  close(): void;
}

/** The system bus socket when DBUS_SYSTEM_BUS_ADDRESS does not name another. */
export const SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket";

const DEST = "org.freedesktop.systemd1";
const PATH = "/org/freedesktop/systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";
const UNIT = "org.freedesktop.systemd1.Unit";
/** How long to wait for a start or stop job to end. */
const WAIT_MS = 30_000;

/** The system bus address: DBUS_SYSTEM_BUS_ADDRESS or systemd's default socket. */
export function systemBusAddress(env: (k: string) => string | undefined = Deno.env.get): string {
  return env("DBUS_SYSTEM_BUS_ADDRESS") ?? `unix:path=${SYSTEM_BUS_SOCKET}`;
}

/**
 * Connects to systemd on the system bus.
 *
 * @throws {CgroupError} naming the D-Bus socket when systemd cannot be reached.
 */
export function connectSystemd(address: string = systemBusAddress()): SystemdUnits {
  let bus: SdBus;
  try {
    bus = SdBus.open(address);
  } catch (e) {
    throw new CgroupError(
      "",
      `systemd cgroup driver (--systemd-cgroup): ${(e as Error).message}; ` +
        "is systemd running with its D-Bus system bus?",
      { code: (e as DbusError).code ?? "EIO" },
    );
  }
  try {
    // Any answer proves systemd is there; NoSuchUnit is an answer.
    bus.call({
      destination: DEST,
      path: PATH,
      iface: MANAGER,
      member: "GetUnit",
      signature: "s",
      args: ["-.slice"],
    }, "o");
  } catch (e) {
    if (
      !(e instanceof DbusError) || e.dbusName === "" ||
      !e.dbusName.startsWith("org.freedesktop.systemd1")
    ) {
      bus.close();
      throw new CgroupError(
        "",
        `systemd cgroup driver (--systemd-cgroup): systemd does not answer on D-Bus at ` +
          `${JSON.stringify(address)}: ${(e as Error).message}`,
      );
    }
  }
  return new DbusUnits(bus);
}

class DbusUnits implements SystemdUnits {
  #bus: SdBus;
  #watching = false;

  constructor(bus: SdBus) {
    this.#bus = bus;
  }

  #manager(member: string, signature: string, args: DbusValue[], reply = ""): string[] {
    return this.#bus.call({
      destination: DEST,
      path: PATH,
      iface: MANAGER,
      member,
      signature,
      args,
    }, reply);
  }

  /** The unit's object path, or undefined when it is not loaded. */
  #unitPath(unit: string): string | undefined {
    try {
      return this.#manager("GetUnit", "s", [unit], "o")[0];
    } catch (e) {
      if (e instanceof DbusError && e.dbusName === "org.freedesktop.systemd1.NoSuchUnit") {
        return undefined;
      }
      throw e;
    }
  }

  #activeState(path: string): string {
    try {
      return this.#bus.getString({ destination: DEST, path, iface: UNIT, member: "ActiveState" });
    } catch (e) {
      if (e instanceof DbusError && e.dbusName.startsWith("org.freedesktop.DBus.Error.Unknown")) {
        return "gone";
      }
      throw e;
    }
  }

  /**
   * Asks the bus for systemd's JobRemoved signals (once per connection), so that the end of a
   * job this connection queues can be awaited: it must be in place before the job is queued.
   */
  #watchJobs(): void {
    if (this.#watching) return;
    this.#bus.call({
      destination: "org.freedesktop.DBus",
      path: "/org/freedesktop/DBus",
      iface: "org.freedesktop.DBus",
      member: "AddMatch",
      signature: "s",
      args: [
        `type='signal',sender='${DEST}',path='${PATH}',interface='${MANAGER}',member='JobRemoved'`,
      ],
    });
    // systemd sends job signals on the system bus to subscribed clients.
    this.#manager("Subscribe", "", []);
    this.#watching = true;
  }

  /**
   * Waits for the end of `job` (a job object path): its result, `done` when the unit reached
   * the state asked for, else `canceled`, `timeout`, `failed`, `dependency` or `skipped`;
   * undefined when it has not ended within {@linkcode WAIT_MS}.
   */
  #jobResult(job: string): string | undefined {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const sig = this.#bus.nextSignal(MANAGER, "JobRemoved", Math.max(0, deadline - Date.now()));
      if (sig === undefined) return undefined;
      // JobRemoved(u id, o job, s unit, s result)
      if (sig.path === PATH && sig.values[1] === job) return String(sig.values[3]);
    }
  }

  /** Why a scope that failed did so (its Result: `resources`, `timeout`...), "" if unknown. */
  #scopeResult(unit: string): string {
    try {
      const path = this.#unitPath(unit);
      if (path === undefined) return "";
      const r = this.#bus.getString({
        destination: DEST,
        path,
        iface: "org.freedesktop.systemd1.Scope",
        member: "Result",
      });
      return r === "success" ? "" : r;
    } catch {
      return "";
    }
  }

  /**
   * Starts the unit and waits for its start job to end: only a job that ended `done` means
   * the unit is active. Reading ActiveState right after StartTransientUnit would not do: the
   * unit is loaded and `inactive` until systemd runs the queued job.
   */
  start(unit: string, props: UnitProperty[]): void {
    try {
      this.#watchJobs();
    } catch (e) {
      throw wrap(unit, "starting", e);
    }
    const go = () =>
      this.#manager("StartTransientUnit", "ssa(sv)a(sa(sv))", [unit, "fail", props, []], "o")[0]!;
    let job: string;
    try {
      job = go();
    } catch (e) {
      if (!(e instanceof DbusError) || e.dbusName !== "org.freedesktop.systemd1.UnitExists") {
        throw wrap(unit, "starting", e);
      }
      // A failed or dead unit of the same name (a container that died) is reset and replaced.
      const path = this.#unitPath(unit);
      const state = path === undefined ? "gone" : this.#activeState(path);
      if (state === "active" || state === "activating" || state === "reloading") {
        throw new CgroupError(
          "",
          `systemd unit ${JSON.stringify(unit)} already exists and is ${state}`,
          { code: "EEXIST" },
        );
      }
      try {
        this.#manager("ResetFailedUnit", "s", [unit]);
      } catch {
        // not failed: nothing to reset
      }
      try {
        job = go();
      } catch (e2) {
        throw wrap(unit, "starting", e2);
      }
    }
    const result = this.#jobResult(job);
    if (result === "done") return;
    const why = this.#scopeResult(unit);
    // Leave no unit behind: a start job still queued is canceled, a failed unit is reset.
    try {
      this.stop(unit);
    } catch {
      // the error below is the one that matters
    }
    throw new CgroupError(
      "",
      `systemd unit ${JSON.stringify(unit)} did not start: ${
        result === undefined
          ? `its start job did not end within ${WAIT_MS / 1000} s`
          : `its start job ended "${result}"${why === "" ? "" : ` (unit result "${why}")`}`
      }`,
    );
  }

  set(unit: string, props: UnitProperty[]): void {
    if (props.length === 0) return;
    try {
      this.#manager("SetUnitProperties", "sba(sv)", [unit, true, props]);
    } catch (e) {
      throw wrap(unit, "setting properties of", e);
    }
  }

  /** Stops the unit and waits for its stop job to end, then resets it if it failed. */
  stop(unit: string): void {
    let job: string;
    try {
      this.#watchJobs();
      job = this.#manager("StopUnit", "ss", [unit, "replace"], "o")[0]!;
    } catch (e) {
      if (e instanceof DbusError && e.dbusName === "org.freedesktop.systemd1.NoSuchUnit") return;
      throw wrap(unit, "stopping", e);
    }
    const result = this.#jobResult(job);
    if (result !== "done") {
      // Another end (a newer job replaced it...): the unit's state tells whether it is down.
      const path = this.#unitPath(unit);
      const state = path === undefined ? "gone" : this.#activeState(path);
      if (state !== "gone" && state !== "inactive" && state !== "failed") {
        throw new CgroupError(
          "",
          `systemd unit ${JSON.stringify(unit)} did not stop: ${
            result === undefined
              ? `its stop job did not end within ${WAIT_MS / 1000} s`
              : `its stop job ended "${result}"`
          } and it is ${state}`,
        );
      }
    }
    try {
      this.#manager("ResetFailedUnit", "s", [unit]);
    } catch {
      // not failed, or already unloaded
    }
  }

  close(): void {
    this.#bus.close();
  }
}

function wrap(unit: string, what: string, e: unknown): CgroupError {
  return new CgroupError(
    "",
    `${what} systemd unit ${JSON.stringify(unit)}: ${(e as Error).message}`,
  );
}
