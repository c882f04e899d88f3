/**
 * What a `pg_dump --format=custom` holds, read from its table of contents while it streams:
 * `pg_restore --list` reads the header and the TOC (written first) and exits. Each TOC entry
 * carries the catalog OID of its object, so the tables pg_dump dumped, and the tables whose rows
 * it dumped, are known exactly: no guess at pg_dump's rules (other sessions' temp tables,
 * extension members, partitioned parents without rows of their own) can disagree with it.
 */
import { spawn } from "node:child_process";

export interface DumpContents {
  /** OIDs of the tables whose definition is in the dump (`TABLE` entries). */
  tables: number[];
  /** OIDs of the tables whose rows are in the dump (`TABLE DATA` entries). */
  tableData: number[];
  /** Large objects in the dump (`BLOB` entries). */
  largeObjects: number;
}

/** pg_class's OID: the catalog of a `TABLE` entry. */
const PG_CLASS = 1259;

/** Pure: the dump's contents from the text of `pg_restore --list`. */
export function parseTocList(text: string): DumpContents {
  const tables: number[] = [];
  const tableData: number[] = [];
  let largeObjects = 0;
  for (const line of text.split("\n")) {
    const m = /^\d+; (\d+) (\d+) (.*)$/.exec(line);
    if (!m) continue;
    const [catalog, oid, rest] = [Number(m[1]), Number(m[2]), m[3]!];
    if (catalog === PG_CLASS && rest.startsWith("TABLE ")) tables.push(oid);
    else if (catalog === 0 && oid > 0 && rest.startsWith("TABLE DATA ")) tableData.push(oid);
    else if (rest.startsWith("BLOB ")) largeObjects++;
  }
  return { tables, tableData, largeObjects };
}

/** A TOC larger than this without pg_restore having finished reading it is not a TOC we can use. */
const MAX_FED_BYTES = 512 * 1024 * 1024;

/**
 * A reader of a custom-format dump's TOC fed with the dump's bytes as they stream past (a tee:
 * it never slows the upload; once `pg_restore --list` has what it needs and exits, the rest is
 * not fed). `contents` settles when it has exited.
 */
export function tocReader(pgRestore: string): {
  feed(chunk: Buffer): void;
  end(): void;
  contents: Promise<DumpContents>;
} {
  const child = spawn(pgRestore, ["--list"], { stdio: ["pipe", "pipe", "pipe"] });
  let open = true;
  let fed = 0;
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.stdin.on("error", () => (open = false)); // EPIPE once it stopped reading: expected
  const contents = new Promise<DumpContents>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      open = false;
      if (code === 0) resolve(parseTocList(stdout));
      else
        reject(
          new Error(`pg_restore --list could not read the dump's table of contents (exit ${code}): ${stderr.trim()}`),
        );
    });
  });
  contents.catch(() => undefined); // the caller awaits it; no unhandled rejection meanwhile
  return {
    feed(chunk) {
      if (!open) return;
      fed += chunk.length;
      if (fed > MAX_FED_BYTES) {
        open = false;
        child.kill();
        return;
      }
      child.stdin.write(chunk);
    },
    end() {
      if (open) child.stdin.end();
    },
    contents,
  };
}

/**
 * Pure: a restore's two `pg_restore --use-list` lists from the text of `pg_restore --list`:
 * first the schemas and their ACLs, then everything else in the dump's order. A non-superuser
 * can give a table to its owner only once that owner may create in the table's schema, and a
 * schema's GRANTs otherwise come last of all; a superuser never notices the order. Without
 * `keepPolicies` (a restore that keeps no privileges) the row-security policies stay out too:
 * they name roles and decide who sees what. Returns the policies left out, by their TOC tag.
 */
export function restoreLists(list: string, keepPolicies = true): { first: string; rest: string; policies: string[] } {
  const first: string[] = [];
  const rest: string[] = [];
  const policies: string[] = [];
  for (const line of list.split("\n")) {
    const m = /^\d+; \d+ \d+ (.*)$/.exec(line);
    if (!m) continue;
    const entry = m[1]!;
    if (entry.startsWith("SCHEMA - ") || entry.startsWith("ACL - SCHEMA ")) first.push(line);
    else if (!keepPolicies && entry.startsWith("POLICY "))
      policies.push(entry.replace(/^POLICY /, "").replace(/ \S+$/, ""));
    else rest.push(line);
  }
  return { first: first.join("\n") + "\n", rest: rest.join("\n") + "\n", policies };
}
