/**
 * `npm run posture -- --stack prod [--json | --markdown]`
 *
 * Offline (no cloud, no Pulumi CLI): evaluates the program for the stack and its peer with the
 * committed config, and prints every classified system's tier, objective, protecting mechanisms,
 * worst-case RPO, estimated RTO and verdict for an in-region failure and a regional disaster.
 * Exit status: 0 when every system meets its tier, 1 when any misses it, 2 on bad usage or
 * config (nothing is evaluated then).
 */
import { parseArgs } from "node:util";
import { postureOf } from "./stack.ts";
import { renderJson, renderMarkdown, renderTable } from "./render.ts";

const USAGE = "usage: npm run posture -- --stack <prod|dr> [--json | --markdown]";

async function main(): Promise<number> {
  let values: { stack?: string; json?: boolean; markdown?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        stack: { type: "string", short: "s" },
        json: { type: "boolean" },
        markdown: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.stack) {
    console.error(`--stack is required (prod or dr)\n${USAGE}`);
    return 2;
  }
  if (values.json && values.markdown) {
    console.error(`--json and --markdown exclude each other\n${USAGE}`);
    return 2;
  }
  let report;
  try {
    report = await postureOf(values.stack);
  } catch (error) {
    console.error(`posture of stack "${values.stack}" could not be evaluated:\n${(error as Error).message}`);
    return 2;
  }
  console.log(values.json ? renderJson(report) : values.markdown ? renderMarkdown(report) : renderTable(report));
  return report.verdict === "met" ? 0 : 1;
}

process.exitCode = await main();
