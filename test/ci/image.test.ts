import { existsSync, readFileSync } from "node:fs";
import test from "ava";
import { $ } from "zx";
import { dockerfileProblems, parseDockerfile, readDockerignore } from "../helpers/dockerfile.ts";

const DOCKERFILE = new URL("../../Dockerfile", import.meta.url);
const text = readFileSync(DOCKERFILE, "utf8");
/** The set-up installs hadolint into the project's venv (scripts/setup/requirements.mjs); else the PATH's. */
const VENV_HADOLINT = new URL("../../.venv/bin/hadolint", import.meta.url).pathname;
const hadolint = existsSync(VENV_HADOLINT) ? VENV_HADOLINT : "hadolint";

test("the Dockerfile passes hadolint with no finding", async (t) => {
  const which = await $({ nothrow: true, quiet: true })`which ${hadolint}`;
  t.is(which.exitCode, 0, "hadolint is not installed: npm test installs it into .venv/ (scripts/setup.mjs)");
  const r = await $({ nothrow: true, quiet: true })`${hadolint} --format json ${DOCKERFILE.pathname}`;
  t.deepEqual(JSON.parse(r.stdout || "[]"), []);
  t.is(r.exitCode, 0, r.stderr);
});

test("hadolint catches what it is there for (an unpinned base image, root, apt without cleanup)", async (t) => {
  const bad = "FROM node:latest\nRUN apt-get update && apt-get install -y git\n";
  const r = await $({ nothrow: true, quiet: true, input: bad })`${hadolint} --format json -`;
  const codes = (JSON.parse(r.stdout) as { code: string }[]).map((f) => f.code);
  t.true(codes.includes("DL3007"), codes.join(","));
  t.true(codes.includes("DL3009") || codes.includes("DL3015"), codes.join(","));
});

test("the image runs as the jobs' unprivileged user, from a digest-pinned base, with production dependencies only", (t) => {
  t.deepEqual(dockerfileProblems(parseDockerfile(text)), []);
});

test("the image rules report a mutable base, a dev install, root and a copy of the whole context", (t) => {
  const bad = parseDockerfile("FROM node:24\nRUN npm ci\nCOPY . .\nUSER root\nRUN mkdir -p /app/.runs\n");
  t.deepEqual(dockerfileProblems(bad), [
    'base image "node:24" is not pinned by digest (@sha256:…)',
    "npm ci without --omit=dev: dev dependencies would ship in the image",
    'the image runs as "root"; expected the jobs\' user 10001 (pods run as 10001, ECS tasks as "10001")',
    "COPY . copies the whole context; copy only what the jobs run",
  ]);
});

test("the build context is only what the image copies", (t) => {
  const ignore = readDockerignore(new URL("../../.dockerignore", import.meta.url));
  t.is(ignore[0], "*", "everything is excluded first");
  const included = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
  const copied = parseDockerfile(text)
    .filter((i) => i.instruction === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
    .map((p) => p.replace(/\/$/, ""));
  t.deepEqual([...new Set(copied)].sort(), [...included].sort());
});
