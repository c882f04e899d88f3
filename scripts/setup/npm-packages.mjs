// @ts-check
/**
 * Whether node_modules/ holds what package-lock.json locks, without running npm (a few
 * milliseconds): `npm ci` records what it installed in node_modules/.package-lock.json; this
 * compares that record with the lockfile entry by entry, and checks each package's folder is there.
 */

/**
 * @typedef {{ name?: string, version?: string, optional?: boolean }} LockEntry
 * @typedef {{ packages?: Record<string, LockEntry> }} Lockfile
 */

/**
 * @param {Lockfile} lock  package-lock.json
 * @param {Lockfile | null} installed  node_modules/.package-lock.json, null when node_modules/ has none
 * @param {(path: string) => boolean} folderExists  e.g. `(p) => existsSync(join(root, p))`
 * @returns {import("./plan.mjs").NpmState}
 */
export function npmPackagesState(lock, installed, folderExists) {
  if (!folderExists("node_modules")) return { status: "missing" };
  if (installed === null) return { status: "stale", reason: "node_modules/.package-lock.json is missing" };
  const locked = lock.packages ?? {};
  const present = installed.packages ?? {};
  for (const [path, entry] of Object.entries(locked)) {
    if (path === "") continue; // the project itself
    const have = present[path];
    if (have === undefined) {
      // Optional packages for another platform or CPU are never installed.
      if (entry.optional) continue;
      return { status: "stale", reason: `${path}${entry.version ? ` ${entry.version}` : ""} is not installed` };
    }
    if (have.version !== entry.version)
      return { status: "stale", reason: `${path} is ${have.version}, package-lock.json locks ${entry.version}` };
    if (!folderExists(path)) return { status: "stale", reason: `${path} is recorded but its folder is gone` };
  }
  for (const path of Object.keys(present))
    if (!(path in locked)) return { status: "stale", reason: `${path} is installed but not in package-lock.json` };
  return { status: "current" };
}
