// @ts-check
/** The runbooks start the moto the set-up installed (.venv/) before any on the PATH. */
import test from "ava";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MOTO } from "../../scripts/setup/requirements.mjs";
import { findMotoServer, PROJECT_MOTO_SERVER } from "../../rehearsal/stand-ins/moto.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** @param {import("ava").ExecutionContext} t */
function binDirWithMoto(t) {
  const dir = mkdtempSync(join(tmpdir(), "moto-path-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "moto_server"), "#!/bin/sh\n");
  chmodSync(join(dir, "bin", "moto_server"), 0o755);
  return dir;
}

test("the runbooks look for moto where the set-up installs it", (t) => {
  t.is(PROJECT_MOTO_SERVER, join(root, MOTO.executable));
});

test("moto in the project's venv comes before one on the PATH", (t) => {
  const dir = binDirWithMoto(t);
  const venvServer = join(dir, "venv-moto_server");
  writeFileSync(venvServer, "#!/bin/sh\n");
  chmodSync(venvServer, 0o755);
  t.is(findMotoServer({ PATH: join(dir, "bin") }, venvServer), venvServer);
});

test("without the venv, moto_server on the PATH is used; with neither, none is found", (t) => {
  const dir = binDirWithMoto(t);
  const absent = join(dir, "no-venv", "moto_server");
  t.is(findMotoServer({ PATH: `/nonexistent:${join(dir, "bin")}` }, absent), join(dir, "bin", "moto_server"));
  t.is(findMotoServer({ PATH: "/nonexistent" }, absent), undefined);
});
