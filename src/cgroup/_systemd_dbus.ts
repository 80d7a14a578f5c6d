/**
 * systemd's unit API over D-Bus (org.freedesktop.systemd1.Manager), through sd-bus: start a
 * transient unit and wait until it is active, change its properties, stop it and wait until it
 * is gone. Module-private to the systemd cgroup driver (src/cgroup/systemd.ts), which tests
 * itself against a recording fake of {@linkcode SystemdUnits}.
 * @module
 */
import { DbusError, type DbusValue, SdBus, type Variant } from "../../ffi/sdbus.ts";
import { CgroupError, sleepSync } from "./_common.ts";

/** One unit property: its name and typed value (`["MemoryMax", {sig: "t", value: 1n}]`). */
export type UnitProperty = [string, Variant];

/** What the driver asks of systemd. */
export interface SystemdUnits {
  /** Starts a transient unit (mode "fail") and waits until it is active. */
  start(unit: string, props: UnitProperty[]): void;
  /** Changes properties of a running unit (runtime only, as runc does). */
  set(unit: string, props: UnitProperty[]): void;
  /** Stops a unit and waits until it is gone (nothing when it is not loaded). */
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
/** How long to wait for a unit to become active or go away. */
const WAIT_MS = 10_000;

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

  start(unit: string, props: UnitProperty[]): void {
    const go = () =>
      this.#manager("StartTransientUnit", "ssa(sv)a(sa(sv))", [unit, "fail", props, []], "o");
    try {
      go();
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
        go();
      } catch (e2) {
        throw wrap(unit, "starting", e2);
      }
    }
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 1;; delay = Math.min(delay * 2, 50)) {
      const path = this.#unitPath(unit);
      const state = path === undefined ? "gone" : this.#activeState(path);
      if (state === "active") return;
      if (state === "failed" || state === "gone" || state === "inactive" || Date.now() > deadline) {
        throw new CgroupError(
          "",
          `systemd unit ${JSON.stringify(unit)} did not start: it is ${state}`,
        );
      }
      sleepSync(delay);
    }
  }

  set(unit: string, props: UnitProperty[]): void {
    if (props.length === 0) return;
    try {
      this.#manager("SetUnitProperties", "sba(sv)", [unit, true, props]);
    } catch (e) {
      throw wrap(unit, "setting properties of", e);
    }
  }

  stop(unit: string): void {
    try {
      this.#manager("StopUnit", "ss", [unit, "replace"], "o");
    } catch (e) {
      if (e instanceof DbusError && e.dbusName === "org.freedesktop.systemd1.NoSuchUnit") return;
      throw wrap(unit, "stopping", e);
    }
    const deadline = Date.now() + WAIT_MS;
    for (let delay = 1;; delay = Math.min(delay * 2, 50)) {
      const path = this.#unitPath(unit);
      const state = path === undefined ? "gone" : this.#activeState(path);
      if (state === "gone" || state === "inactive" || state === "failed") break;
      if (Date.now() > deadline) {
        throw new CgroupError(
          "",
          `systemd unit ${JSON.stringify(unit)} did not stop: it is ${state}`,
        );
      }
      sleepSync(delay);
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
