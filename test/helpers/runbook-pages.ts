/**
 * The step lists of the runbook pages (runbooks/docs/*.md), generated from the code: each list
 * sits between a marker naming the runbook (and the flags that select its shape, as JSON) and an
 * end marker, e.g.
 *
 *   <!-- steps of backup-redis {"host":"redis.internal"}: generated from the code by npm run docs:steps -->
 *   | # | step | … |
 *   <!-- end of steps -->
 *
 * `pageDifferences()` names every list that differs from the code (test/runbooks/step-lists.test.ts);
 * run as a script (`npm run docs:steps`) it rewrites them.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stepListMarkdown } from "../../runbooks/lib/step-list.ts";
import type { RawOptions } from "../../runbooks/lib/types.ts";
import { runbookNamed, RUNBOOKS_DIR, stepsOf } from "./runbook-steps.ts";

export const PAGES_DIR = join(RUNBOOKS_DIR, "docs");
const LIST = /(<!-- steps of ([a-z0-9-]+)( \{.*?\})?: [^\n]*-->\n)([\s\S]*?)(<!-- end of steps -->)/g;

export interface StepList {
  page: string;
  runbook: string;
  given: RawOptions;
  written: string;
  generated: string;
}

/** Every step list of every page, as written and as generated from the code. */
export function stepLists(dir = PAGES_DIR): StepList[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".md"))
    .sort()
    .flatMap((page) =>
      [...readFileSync(join(dir, page), "utf8").matchAll(LIST)].map((m) => {
        const given = m[3] ? (JSON.parse(m[3]) as RawOptions) : {};
        return {
          page,
          runbook: m[2]!,
          given,
          written: m[4]!,
          generated: stepListMarkdown(stepsOf(runbookNamed(m[2]!), given)),
        };
      }),
    );
}

/** One line per list that differs from the code. */
export const pageDifferences = (dir = PAGES_DIR): string[] =>
  stepLists(dir)
    .filter((l) => l.written !== l.generated)
    .map((l) => `${l.page}: the step list of ${l.runbook} differs from the code (npm run docs:steps rewrites it)`);

/** Rewrites every list from the code; returns the pages changed. */
export function writeStepLists(dir = PAGES_DIR): string[] {
  const changed: string[] = [];
  for (const page of readdirSync(dir).filter((f) => f.endsWith(".md"))) {
    const file = join(dir, page);
    const text = readFileSync(file, "utf8");
    const next = text.replace(
      LIST,
      (_all, open: string, name: string, json: string | undefined, _old, close: string) => {
        const given = json ? (JSON.parse(json) as RawOptions) : {};
        return `${open}${stepListMarkdown(stepsOf(runbookNamed(name), given))}${close}`;
      },
    );
    if (next !== text) {
      writeFileSync(file, next);
      changed.push(page);
    }
  }
  return changed;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const changed = writeStepLists();
  console.log(changed.length ? `rewrote the step lists of ${changed.join(", ")}` : "every step list matches the code");
}
