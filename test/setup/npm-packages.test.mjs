// @ts-check
/** Whether node_modules/ matches package-lock.json (scripts/setup/npm-packages.mjs), decided without running npm. */
import test from "ava";
import { npmPackagesState } from "../../scripts/setup/npm-packages.mjs";

const lock = {
  packages: {
    "": { name: "eventchain-dr" },
    "node_modules/zx": { version: "8.8.5" },
    "node_modules/@esbuild/darwin-arm64": { version: "0.27.0", optional: true },
    "node_modules/ava/node_modules/ms": { version: "2.1.3" },
  },
};
const installed = {
  packages: {
    "node_modules/zx": { version: "8.8.5" },
    "node_modules/ava/node_modules/ms": { version: "2.1.3" },
  },
};
const allFolders = () => true;

test("node_modules as npm ci left it is current, optional packages for other platforms aside", (t) => {
  t.deepEqual(npmPackagesState(lock, installed, allFolders), { status: "current" });
});

test("no node_modules folder is missing", (t) => {
  t.deepEqual(
    npmPackagesState(lock, null, (p) => p !== "node_modules"),
    { status: "missing" },
  );
});

test("node_modules without npm's record of it is stale", (t) => {
  t.deepEqual(npmPackagesState(lock, null, allFolders), {
    status: "stale",
    reason: "node_modules/.package-lock.json is missing",
  });
});

test("a package at another version than the lockfile's is stale, naming both versions", (t) => {
  const older = { packages: { ...installed.packages, "node_modules/zx": { version: "8.8.4" } } };
  t.deepEqual(npmPackagesState(lock, older, allFolders), {
    status: "stale",
    reason: "node_modules/zx is 8.8.4, package-lock.json locks 8.8.5",
  });
});

test("a locked package that was never installed is stale", (t) => {
  const without = { packages: { "node_modules/zx": { version: "8.8.5" } } };
  t.deepEqual(npmPackagesState(lock, without, allFolders), {
    status: "stale",
    reason: "node_modules/ava/node_modules/ms 2.1.3 is not installed",
  });
});

test("an installed package the lockfile no longer has is stale", (t) => {
  const extra = { packages: { ...installed.packages, "node_modules/left-pad": { version: "1.3.0" } } };
  t.deepEqual(npmPackagesState(lock, extra, allFolders), {
    status: "stale",
    reason: "node_modules/left-pad is installed but not in package-lock.json",
  });
});

test("a recorded package whose folder was deleted is stale", (t) => {
  t.deepEqual(
    npmPackagesState(lock, installed, (p) => p !== "node_modules/zx"),
    { status: "stale", reason: "node_modules/zx is recorded but its folder is gone" },
  );
});
