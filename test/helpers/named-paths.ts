/**
 * The repository paths that comments, docs and the README name, and those that do not exist.
 * Read: every Markdown file whole; the comments of TypeScript and JavaScript files (the
 * compiler's scanner finds them, so a URL in a string is not one); `#` lines of YAML, shell and
 * the Dockerfile. A path counts when it starts at one of the repository's top-level entries
 * (`runbooks/lib/engine.ts`, `docs/`), starts with `./` or `../` (resolved against the folder
 * of the file naming it or one of its parents), is a glob (`posture-*.ts`), or is a bare TypeScript or Markdown file
 * name (`engine.ts`: it must exist somewhere). Anything else — S3 keys such as `runs/…`,
 * git-ignored folders such as `.drill/`, the reference plan's shell scripts — is not a path of
 * this repository.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { basename, dirname, join, normalize } from "node:path";
import ts from "typescript";

export interface NamedFile {
  path: string;
  text: string;
}

/** Files the runs write, which a page may name bare: not files of the repository. */
const WRITTEN_BY_RUNS = new Set(["report.md"]);

const CANDIDATE =
  /(?<![\w/.@*<>$-])((?:\.{1,2}\/)*(?:[\w@.*-]+\/)*[\w.*-]+\.(?:ts|mts|mjs|js|json|md|ya?ml|sh)|(?:\.{1,2}\/)*(?:[\w@.-]+\/)+)(?![\w/*-])/g;

/** The text of `file` in which paths are looked for: its comments, or all of it for Markdown. */
export function commentsOf(file: NamedFile): string {
  if (/\.md$/.test(file.path)) return file.text;
  if (/\.(ts|mts|mjs|js)$/.test(file.path)) {
    const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, file.text);
    const out: string[] = [];
    for (let k = scanner.scan(); k !== ts.SyntaxKind.EndOfFileToken; k = scanner.scan())
      if (k === ts.SyntaxKind.SingleLineCommentTrivia || k === ts.SyntaxKind.MultiLineCommentTrivia)
        out.push(scanner.getTokenText());
    return out.join("\n");
  }
  if (/(\.(ya?ml|sh)|Dockerfile|^\.ci\/run)$/.test(file.path))
    return file.text
      .split("\n")
      .filter((line) => /^\s*#|\s#\s/.test(line))
      .join("\n");
  return "";
}

/** The folders from the file's own up to the root: an example's `../runbooks/lib/engine.ts` is relative to one of them. */
function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); ; d = dirname(d)) {
    out.push(d);
    if (d === ".") return out;
  }
}

/** `file: path` for every path named in `files` that `tracked` (the repository's files) lacks. */
export function missingPaths(files: NamedFile[], tracked: string[]): string[] {
  const all = new Set(tracked);
  const dirs = new Set<string>();
  for (const f of tracked) for (let d = dirname(f); d !== "."; d = dirname(d)) dirs.add(d);
  const names = new Set(tracked.map((f) => basename(f)));
  const top = new Set(tracked.map((f) => f.split("/")[0]!));
  const exists = (p: string) => all.has(normalize(p)) || dirs.has(normalize(p));
  const out: string[] = [];
  for (const file of files) {
    for (const m of commentsOf(file).matchAll(CANDIDATE)) {
      const named = m[1]!;
      const path = named.replace(/\/$/, "");
      const relative = /^\.\.?\//.test(named);
      const nested = path.includes("/");
      if (!relative && nested && !top.has(path.split("/")[0]!)) continue;
      if (!nested && !relative && (named.endsWith("/") || !/\.(ts|mts|mjs|md)$/.test(path))) continue;
      if (WRITTEN_BY_RUNS.has(path)) continue;
      let found: boolean;
      if (path.includes("*")) {
        const glob = new RegExp(`(^|/)${path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
        found = tracked.some((f) => glob.test(f));
      } else if (!nested && !relative) found = names.has(path);
      else if (relative) found = ancestorsOf(file.path).some((dir) => exists(join(dir, path)));
      else found = exists(join(dirname(file.path), path)) || exists(path);
      if (!found) out.push(`${file.path}: ${named}`);
    }
  }
  return out;
}

/** The repository's files (git's index) and the text of those that can name paths. */
export function repositoryFiles(root: string): { tracked: string[]; files: NamedFile[] } {
  const tracked = execFileSync("git", ["-C", root, "ls-files", "-z"], { encoding: "utf8" }).split("\0").filter(Boolean);
  const files = tracked
    .filter((f) => !f.startsWith("test/fixtures/") && /\.(ts|mts|mjs|js|md|ya?ml|sh)$|Dockerfile$|^\.ci\/run$/.test(f))
    .map((path) => ({ path, text: readFileSync(join(root, path), "utf8") }));
  return { tracked, files };
}
