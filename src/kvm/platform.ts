/**
 * The platform a sandbox runs its containers on (runsc's `--platform`): `native` (host
 * processes in namespaces, the default) or `kvm` (the sandbox process gets /dev/kvm). Chosen by
 * the global flag, or by the annotation `dev.runts.platform` for clients that cannot pass flags.
 * @module
 */

/** The platforms. */
export const PLATFORMS = ["native", "kvm"] as const;
/** A platform name. */
export type Platform = typeof PLATFORMS[number];
/** The annotation that selects the platform when the flag is not given. */
export const PLATFORM_ANNOTATION = "dev.runts.platform";

function parse(value: string, what: string): Platform {
  if ((PLATFORMS as readonly string[]).includes(value)) return value as Platform;
  throw new Error(`${what}: must be "native" or "kvm", not ${JSON.stringify(value)}`);
}

/** Parses the value of `--platform`. */
export function parsePlatformFlag(value: string): Platform {
  return parse(value, "--platform");
}

/** The platform of a container: the flag if given, else the annotation, else native. */
export function selectPlatform(
  flag: Platform | undefined,
  annotations: Record<string, string> | undefined,
): Platform {
  if (flag !== undefined) return flag;
  const a = annotations?.[PLATFORM_ANNOTATION];
  return a === undefined ? "native" : parse(a, `annotation ${JSON.stringify(PLATFORM_ANNOTATION)}`);
}

/**
 * What the sandbox process answers a container on the kvm platform once it has checked the fd
 * it received: the device works, running a container's workload in a guest does not exist yet.
 */
export function kvmWorkloadRefusal(apiVersion: number): Error {
  return new Error(
    `platform "kvm": the sandbox process received /dev/kvm (API version ${apiVersion}) but ` +
      "running a container's workload in a KVM guest is not implemented yet (use " +
      "`runts debug kvm` for the built-in guests)",
  );
}
