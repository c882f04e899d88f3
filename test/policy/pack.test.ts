import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import test from "ava";

const root = new URL("../../", import.meta.url).pathname;

/**
 * Loads the pack the way the analyzer does (`require` of the pack directory, ESM TypeScript through
 * tsx, as PulumiPolicy.yaml's nodeargs say) and resolves with the first line it prints or its
 * error output when it exits. The pack's policy server stays up, so the process is stopped here.
 */
function loadPack(
  env: Record<string, string | undefined>,
): Promise<{ firstLine?: string; exitCode?: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const childEnv = { ...process.env, ...env };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
    const child = spawn(process.execPath, ["--import=tsx", "-e", "require(process.argv[1])", `${root}policy`], {
      cwd: root,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => {
      stdout += d;
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n")) {
        child.kill("SIGTERM");
        resolve({ firstLine: line, stderr });
      }
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ exitCode: code, stderr }));
  });
}

test("the policy pack loads with the committed prod config and serves on a port", async (t) => {
  const run = await loadPack({ EVENTCHAIN_STACK: "prod" });
  t.regex(run.firstLine ?? `exited ${run.exitCode}: ${run.stderr}`, /^\d+$/);
});

test("without EVENTCHAIN_STACK the pack refuses to start and says what to set", async (t) => {
  const run = await loadPack({ EVENTCHAIN_STACK: undefined });
  t.is(run.firstLine, undefined);
  t.not(run.exitCode, 0);
  t.regex(run.stderr, /EVENTCHAIN_STACK is not set: set it to the stack being previewed \(prod or dr\)/);
});

/** Every npm package the pack's code imports, following its relative imports into the repository. */
function packImports(): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, "utf8").matchAll(
      /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g,
    )) {
      const specifier = m[1]!;
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier);
        if (target.endsWith(".ts") && existsSync(target)) visit(target);
      } else if (!specifier.startsWith("node:"))
        packages.add(
          specifier
            .split("/")
            .slice(0, specifier.startsWith("@") ? 2 : 1)
            .join("/"),
        );
    }
  };
  visit(join(root, "policy", "index.ts"));
  return packages;
}

test("the pack has a package of its own: its entry, and every package it imports at the root's version", (t) => {
  const own = JSON.parse(readFileSync(join(root, "policy", "package.json"), "utf8")) as {
    name: string;
    version: string;
    type: string;
    main: string;
    dependencies: Record<string, string>;
  };
  const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const rootVersions = { ...rootPackage.devDependencies, ...rootPackage.dependencies };
  t.is(own.main, "index.ts");
  t.is(own.type, "module");
  t.regex(own.version, /^\d+\.\d+\.\d+$/);
  // tsx runs the pack's TypeScript (PulumiPolicy.yaml's nodeargs).
  const needed = [...packImports(), "tsx"].sort();
  t.deepEqual(Object.keys(own.dependencies).sort(), needed);
  for (const [name, range] of Object.entries(own.dependencies)) t.is(range, rootVersions[name], `${name}: one version`);
  t.regex(readFileSync(join(root, "policy", "PulumiPolicy.yaml"), "utf8"), /nodeargs: "--import=tsx"/);
});
