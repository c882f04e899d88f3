/**
 * What check-dr-readiness compares, as pure functions over what AWS answered: each returns the
 * differences ("drift") between what the DR region would need on the day and what is there.
 * No AWS calls here (runbooks/aws/readiness-reads.ts reads; runbooks/check-dr-readiness.ts runs).
 */
import type { ContainerDefinition, TaskDefinition } from "@aws-sdk/client-ecs";

/** The kinds of drift, one per row family of the readiness table. */
export type DriftKind =
  | "task-definition"
  | "image-missing"
  | "database"
  | "secret-missing"
  | "kms-key"
  | "switch"
  | "outputs-mirror"
  | "backup-freshness";

/** One difference: what, and what each side has. */
export interface Drift {
  kind: DriftKind;
  /** The thing that differs, e.g. `service eventchain-backend-prod / eventchain-backend-dr: container backend image`. */
  what: string;
  prod: string;
  dr: string;
}

/** An image reference split into what can be compared across regions. */
export interface ImageRef {
  /** `<account>.dkr.ecr.<region>.amazonaws.com`, or the registry host, or "" (Docker Hub). */
  registry: string;
  /** The ECR region, when the registry is ECR. */
  region: string | null;
  repository: string;
  tag: string | null;
  digest: string | null;
}

const ECR = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$/;

export function parseImage(image: string): ImageRef {
  let rest = image;
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  const hasRegistry = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasRegistry ? first : "";
  const path = hasRegistry ? rest.slice(slash + 1) : rest;
  const colon = path.lastIndexOf(":");
  const repository = colon >= 0 ? path.slice(0, colon) : path;
  const tag = colon >= 0 ? path.slice(colon + 1) : digest ? null : "latest";
  return { registry, region: ECR.exec(registry)?.[2] ?? null, repository, tag, digest };
}

/** The image as the other region would pull it: the same account's ECR in `region`, same repository, tag and digest. */
const comparableImage = (i: ImageRef) =>
  `${i.region ? "<ecr>" : i.registry}/${i.repository}${i.tag ? `:${i.tag}` : ""}${i.digest ? `@${i.digest}` : ""}`;

/** Region-specific values (ARNs, endpoints) with the region replaced, so prod's and DR's compare. */
export const sameAcrossRegions = (value: string, region: string) => value.split(region).join("<region>");

const pairs = (e: { name?: string; value?: string; valueFrom?: string }[] | undefined, key: "value" | "valueFrom") =>
  new Map((e ?? []).map((x) => [x.name ?? "", x[key] ?? ""]));

function diffMaps(
  what: string,
  prod: Map<string, string>,
  dr: Map<string, string>,
  regions: { prod: string; dr: string },
): Drift[] {
  const out: Drift[] = [];
  for (const name of [...new Set([...prod.keys(), ...dr.keys()])].sort()) {
    const p = prod.get(name);
    const d = dr.get(name);
    if (p === undefined || d === undefined) {
      out.push({
        kind: "task-definition",
        what: `${what} ${name}`,
        prod: p === undefined ? "(absent)" : "set",
        dr: d === undefined ? "(absent)" : "set",
      });
      continue;
    }
    if (sameAcrossRegions(p, regions.prod) !== sameAcrossRegions(d, regions.dr))
      // Values are shown by name only: environment values and secret references may be sensitive.
      out.push({ kind: "task-definition", what: `${what} ${name}`, prod: "differs", dr: "differs" });
  }
  return out;
}

/**
 * How DR's task definition of a service differs from prod's: per container (by name) its image
 * (the same repository, tag and digest, each from its own region's ECR), environment variable
 * names and values, secret names and references (region-independent), CPU and memory; the
 * task's CPU and memory.
 */
export function compareTaskDefinitions(
  service: string,
  prod: TaskDefinition,
  dr: TaskDefinition,
  regions: { prod: string; dr: string },
): Drift[] {
  const out: Drift[] = [];
  const row = (what: string, p: unknown, d: unknown) => {
    if (String(p ?? "") !== String(d ?? ""))
      out.push({
        kind: "task-definition",
        what: `${service}: ${what}`,
        prod: String(p ?? "(none)"),
        dr: String(d ?? "(none)"),
      });
  };
  row("task cpu", prod.cpu, dr.cpu);
  row("task memory", prod.memory, dr.memory);
  const byName = (td: TaskDefinition) => new Map((td.containerDefinitions ?? []).map((c) => [c.name ?? "", c]));
  const p = byName(prod);
  const d = byName(dr);
  for (const name of [...new Set([...p.keys(), ...d.keys()])].sort()) {
    const pc: ContainerDefinition | undefined = p.get(name);
    const dc: ContainerDefinition | undefined = d.get(name);
    if (!pc || !dc) {
      row(`container ${name}`, pc ? "present" : "(absent)", dc ? "present" : "(absent)");
      continue;
    }
    const pi = parseImage(pc.image ?? "");
    const di = parseImage(dc.image ?? "");
    if (comparableImage(pi) !== comparableImage(di)) row(`container ${name} image`, pc.image, dc.image);
    else if (pi.region && di.region && pi.region === di.region && pi.region !== regions.dr)
      row(`container ${name} image registry (DR pulls from the primary region's ECR)`, pc.image, dc.image);
    row(`container ${name} cpu`, pc.cpu, dc.cpu);
    row(`container ${name} memory`, pc.memory, dc.memory);
    row(`container ${name} memoryReservation`, pc.memoryReservation, dc.memoryReservation);
    out.push(
      ...diffMaps(
        `${service}: container ${name} environment`,
        pairs(pc.environment, "value"),
        pairs(dc.environment, "value"),
        regions,
      ),
    );
    // Secrets: the same names; each side references its own region's secret (names of secrets
    // differ per stack, so their ARNs are not compared; that DR's exist is checked in DR).
    const ps = pairs(pc.secrets, "valueFrom");
    const ds = pairs(dc.secrets, "valueFrom");
    for (const n of [...new Set([...ps.keys(), ...ds.keys()])].sort()) {
      if (!ps.has(n) || !ds.has(n))
        row(`container ${name} secret ${n}`, ps.has(n) ? "set" : "(absent)", ds.has(n) ? "set" : "(absent)");
      else if (ds.get(n)!.includes(`:${regions.prod}:`))
        row(
          `container ${name} secret ${n} (DR references the primary region's secret)`,
          "-",
          ds.get(n)!.split(":").slice(0, 4).join(":"),
        );
    }
  }
  return out;
}

/** Parameters a user set (Source "user"), by name. */
export type Parameters = Map<string, string>;

/** How DR's database parameter group and engine version differ from prod's. */
export function compareDatabase(
  prod: { engineVersion: string; parameterGroup: string; parameters: Parameters },
  dr: { engineVersion: string; parameterGroup: string; parameters: Parameters | null },
): Drift[] {
  const out: Drift[] = [];
  if (prod.engineVersion !== dr.engineVersion)
    out.push({ kind: "database", what: "engine version", prod: prod.engineVersion, dr: dr.engineVersion });
  if (!dr.parameters) {
    out.push({
      kind: "database",
      what: `parameter group ${dr.parameterGroup}`,
      prod: prod.parameterGroup,
      dr: "(does not exist)",
    });
    return out;
  }
  for (const name of [...new Set([...prod.parameters.keys(), ...dr.parameters.keys()])].sort()) {
    const p = prod.parameters.get(name);
    const d = dr.parameters.get(name);
    if (p !== d)
      out.push({
        kind: "database",
        what: `parameter ${name} (${prod.parameterGroup} / ${dr.parameterGroup})`,
        prod: p ?? "(default)",
        dr: d ?? "(default)",
      });
  }
  return out;
}

/** The table of differences, Markdown, one row each; "no drift" when there is none. */
export function driftTable(drift: Drift[]): string {
  if (drift.length === 0) return "No drift: DR has what the day needs.";
  const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [
    "| kind | what | prod | DR |",
    "|---|---|---|---|",
    ...drift.map((d) => `| ${d.kind} | ${cell(d.what)} | ${cell(d.prod)} | ${cell(d.dr)} |`),
  ].join("\n");
}
