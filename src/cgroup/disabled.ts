/**
 * The null cgroup manager: no directories, no limits, empty stats. Used when cgroups are
 * turned off (or unavailable, e.g. some rootless setups); pausing is refused because it needs
 * a freezer.
 * @module
 */
import type { LinuxResources } from "../oci/spec.ts";
import { CgroupError, type CgroupManager, emptyStats, type Stats } from "./_common.ts";

/** A manager that manages nothing. */
export class DisabledManager implements CgroupManager {
  /** Always "disabled". */
  readonly kind = "disabled" as const;

  /** Nothing to create. */
  create(): void {}

  /** No cgroup to join. */
  procsFiles(): string[] {
    return [];
  }

  /** No directories. */
  paths(): Record<string, string> {
    return {};
  }

  /** Limits are not enforced. */
  apply(_res: LinuxResources): void {}

  /** Limits are not enforced. */
  update(_res: LinuxResources): void {}

  /** All zero. */
  stats(): Stats {
    return emptyStats();
  }

  /** Unknown: there is no cgroup to list. */
  pids(): number[] {
    return [];
  }

  /** @throws {CgroupError} always: there is no freezer. */
  freeze(): void {
    throw new CgroupError("", "pausing needs cgroups, and cgroups are disabled for this container");
  }

  /** @throws {CgroupError} always: there is no freezer. */
  thaw(): void {
    throw new CgroupError(
      "",
      "resuming needs cgroups, and cgroups are disabled for this container",
    );
  }

  /** Never frozen. */
  frozen(): boolean {
    return false;
  }

  /** No OOM accounting. */
  oomEvents(): number {
    return 0;
  }

  /** Nothing to remove. */
  destroy(): Promise<void> {
    return Promise.resolve();
  }
}
