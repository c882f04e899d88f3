/**
 * Reads the Dockerfile (instructions, with line continuations joined) and .dockerignore, and
 * checks what the jobs rely on that hadolint does not know: base pinned by digest, the jobs'
 * unprivileged user, production dependencies only, no copy of the whole context.
 */
import { readFileSync } from "node:fs";

export interface Instruction {
  instruction: string;
  args: string;
}

export function parseDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\n/g, " ");
  const args = new Map<string, string>();
  const out: Instruction[] = [];
  for (const raw of joined.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const instruction = m[1]!.toUpperCase();
    let rest = m[2]!.replace(/\s+/g, " ");
    if (instruction === "ARG") {
      const [name, value] = rest.split("=");
      if (name && value !== undefined) args.set(name, value);
    }
    rest = rest.replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? `\${${n}}`);
    out.push({ instruction, args: rest });
  }
  return out;
}

export function readDockerignore(path: URL): string[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** The user the jobs' pods and tasks run as (infra/components/kubernetes-jobs.ts, logical-backups.ts). */
export const JOB_UID = "10001";

export function dockerfileProblems(instructions: Instruction[]): string[] {
  const out: string[] = [];
  for (const from of instructions.filter((i) => i.instruction === "FROM")) {
    const image = from.args.split(" ")[0]!;
    if (!/@sha256:[0-9a-f]{64}$/.test(image)) out.push(`base image "${image}" is not pinned by digest (@sha256:…)`);
  }
  const npm = instructions.filter((i) => i.instruction === "RUN" && /\bnpm (ci|install)\b/.test(i.args));
  for (const r of npm) {
    if (!/\bnpm ci\b/.test(r.args)) out.push("npm install instead of npm ci: the lockfile must decide");
    else if (!/--omit=dev\b/.test(r.args))
      out.push("npm ci without --omit=dev: dev dependencies would ship in the image");
  }
  const users = instructions.filter((i) => i.instruction === "USER");
  const last = users[users.length - 1]?.args.split(":")[0];
  if (last !== JOB_UID)
    out.push(
      `the image runs as "${last ?? "root"}"; expected the jobs' user ${JOB_UID} (pods run as ${JOB_UID}, ECS tasks as "${JOB_UID}")`,
    );
  for (const c of instructions.filter((i) => i.instruction === "COPY" && !i.args.startsWith("--from"))) {
    if (c.args.split(" ")[0] === ".") out.push("COPY . copies the whole context; copy only what the jobs run");
  }
  return out;
}
