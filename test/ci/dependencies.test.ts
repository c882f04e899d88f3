/**
 * The package: what production code imports (infra/, runbooks/, contract/, policy/ — what the
 * jobs' image and the Pulumi program run) is in `dependencies`, which the image installs alone
 * (`npm ci --omit=dev`); every dependency is imported by production code; what only tests, the
 * rehearsal and the tooling use is in `devDependencies`.
 */
import test from "ava";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const tracked = execFileSync("git", ["-C", root, "ls-files", "-z"], { encoding: "utf8" }).split("\0").filter(Boolean);
const PRODUCTION = /^(infra|runbooks|contract|policy)\//;
const SPECIFIER = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["']([^"'./][^"']*)["']/g;

/** The npm package of a bare import specifier (`@smithy/core/retry` → `@smithy/core`); undefined for `node:`. */
const packageOf = (specifier: string) =>
  specifier.startsWith("node:")
    ? undefined
    : specifier
        .split("/")
        .slice(0, specifier.startsWith("@") ? 2 : 1)
        .join("/");

function importsOf(files: string[]): Set<string> {
  const out = new Set<string>();
  for (const f of files)
    for (const m of readFileSync(join(root, f), "utf8").matchAll(SPECIFIER)) {
      const name = packageOf(m[1]!);
      if (name) out.add(name);
    }
  return out;
}

const code = tracked.filter((f) => /\.(ts|mjs|js)$/.test(f) && !f.startsWith("test/fixtures/"));
const production = importsOf(code.filter((f) => PRODUCTION.test(f)));
const everywhere = importsOf(code);

test("every package production code imports is a dependency, which the image installs", (t) => {
  t.deepEqual(
    [...production].filter((p) => !(p in pkg.dependencies)).sort(),
    [],
    "imported by infra/, runbooks/, contract/ or policy/ but not in dependencies",
  );
});

test("every dependency is imported by production code: nothing unused ships in the image", (t) => {
  t.deepEqual(
    Object.keys(pkg.dependencies)
      .filter((p) => !production.has(p))
      .sort(),
    [],
  );
});

/** Dev tools run as commands or by configuration, not imported. */
const TOOLS = new Set(["ava", "eslint", "prettier", "tsx", "typescript-native", "@types/node", "@types/pg"]);

test("every devDependency is used by tests, the rehearsal, the tooling or the type-check", (t) => {
  t.deepEqual(
    Object.keys(pkg.devDependencies)
      .filter((p) => !everywhere.has(p) && !TOOLS.has(p))
      .sort(),
    [],
  );
  t.false("ajv" in pkg.dependencies || "fast-check" in pkg.dependencies, "test-only packages stay out of the image");
});
