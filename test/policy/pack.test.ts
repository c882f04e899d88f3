import { spawn } from "node:child_process";
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
