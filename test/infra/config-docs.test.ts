import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { knownKeys, REPO_ROOT } from "../../infra/config/load.ts";

/** Field paths below a top-level key; inside a list, paths restart at the list's element. */
function fields(path: PropertyKey[], relative: string[] = []): string[] {
  const keys = knownKeys(path);
  if (keys.length === 0) return relative.length ? [relative.join(".")] : [];
  return keys.flatMap((k) => {
    const next = [...path, k];
    const isList = knownKeys([...next, 0]).length > 0;
    return isList ? [k, ...fields([...next, 0], [])] : fields(next, [...relative, k]);
  });
}

test("every config key and field is in docs/config-reference.md", (t) => {
  const doc = readFileSync(join(REPO_ROOT, "docs", "config-reference.md"), "utf8");
  const missing: string[] = [];
  for (const top of knownKeys([])) {
    const key = top === "region" ? "aws:region" : `eventchain-dr:${top}`;
    if (!doc.includes(`\`${key}\``)) missing.push(key);
    if (top === "objectives" || top === "classification") continue;
    for (const field of fields([top])) if (!doc.includes(`\`${field}\``)) missing.push(`${key}.${field}`);
  }
  t.deepEqual(missing, []);
});
