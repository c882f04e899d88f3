// @ts-check
/** The set-up's probe (scripts/setup/probe.mjs) reads a machine from files and the PATH: here, a fake one in a temp dir. */
import test from "ava";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { probeSystem } from "../../scripts/setup/probe.mjs";

const LOCK = {
  name: "fake",
  lockfileVersion: 3,
  packages: { "": { name: "fake" }, "node_modules/left-pad": { version: "1.3.0" } },
};

/**
 * A checkout with everything installed, plus a bin dir and a PostgreSQL bin dir of stand-ins.
 * @param {import("ava").ExecutionContext} t
 */
function fakeMachine(t) {
  const dir = mkdtempSync(join(tmpdir(), "setup-probe-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  /** @param {string} path @param {string | object} content @param {boolean} [executable] */
  const put = (path, content, executable = false) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), typeof content === "string" ? content : JSON.stringify(content));
    if (executable) chmodSync(join(dir, path), 0o755);
  };
  const root = join(dir, "repo");
  put("repo/package.json", { name: "fake", engines: { node: ">=24" } });
  put("repo/package-lock.json", LOCK);
  put("repo/node_modules/.package-lock.json", { ...LOCK, packages: { "node_modules/left-pad": { version: "1.3.0" } } });
  put("repo/node_modules/left-pad/package.json", { version: "1.3.0" });
  const toolsNode = `repo/.tools/node_modules/node-${process.platform}-${process.arch}`;
  put(`${toolsNode}/package.json`, { name: `node-${process.platform}-${process.arch}`, version: "24.22.3" });
  put(`${toolsNode}/bin/node`, "#!/bin/sh\n", true);
  put("repo/.venv/bin/python", "#!/bin/sh\n", true);
  put("repo/.venv/bin/moto_server", "#!/bin/sh\n", true);
  put("repo/.venv/bin/hadolint", "#!/bin/sh\n", true);
  put("repo/.venv/lib/python3.11/site-packages/moto-5.2.1.dist-info/METADATA", "Name: moto\n");
  for (const b of ["redis-server", "redis-cli", "pgbackrest", "stunnel4", "openssl"])
    put(`bin/${b}`, "#!/bin/sh\n", true);
  for (const b of ["initdb", "postgres", "pg_ctl", "pg_dump", "pg_restore"]) put(`pg/${b}`, "#!/bin/sh\n", true);
  const env = { PATH: join(dir, "bin"), PG_BINDIR: join(dir, "pg") };
  return { dir, root, env, put, toolsNode: join(dir, toolsNode) };
}

test("a checkout with everything installed reads as ready", (t) => {
  const m = fakeMachine(t);
  const state = probeSystem(m.root, "test", m.env, join(m.dir, "no-such-dir"));
  t.is(state.node.requiredMajor, 24);
  t.is(state.node.running, process.versions.node);
  t.is(state.node.tools, "24.22.3");
  t.is(state.node.toolsBinDir, join(m.toolsNode, "bin"));
  t.deepEqual(state.npm, { status: "current" });
  t.deepEqual(state.system, { postgresql: true, redis: true, pgbackrest: true, stunnel: true, openssl: true });
  t.deepEqual(state.venv, { python: true, moto: "5.2.1", hadolint: true });
  t.false(state.user.interactive);
});

test("what is not on the PATH reads as missing, and a venv without moto_server has no moto", (t) => {
  const m = fakeMachine(t);
  rmSync(join(m.dir, "bin", "redis-cli"));
  rmSync(join(m.dir, "bin", "stunnel4"));
  rmSync(join(m.root, ".venv", "bin", "moto_server"));
  rmSync(join(m.root, ".venv", "bin", "hadolint"));
  const state = probeSystem(m.root, "test", m.env);
  t.like(state.system, { redis: false, pgbackrest: true, stunnel: false, openssl: true });
  t.deepEqual(state.venv, { python: true, moto: null, hadolint: false });
  // No python3 on this PATH: the venv could not be made.
  t.false(state.pythonVenv);
});

test("a file on the PATH that is not executable does not count", (t) => {
  const m = fakeMachine(t);
  chmodSync(join(m.dir, "bin", "pgbackrest"), 0o644);
  t.false(probeSystem(m.root, "drill", m.env).system.pgbackrest);
});

test("PostgreSQL counts only with every server binary in PG_BINDIR or Debian's directory", (t) => {
  const m = fakeMachine(t);
  const nowhere = join(m.dir, "no-such-dir");
  t.true(probeSystem(m.root, "drill", m.env, nowhere).system.postgresql);
  rmSync(join(m.dir, "pg", "pg_restore"));
  t.false(probeSystem(m.root, "drill", m.env, nowhere).system.postgresql);
  t.false(probeSystem(m.root, "drill", { PATH: m.env.PATH }, join(m.dir, "pg-debian")).system.postgresql);
  for (const b of ["initdb", "postgres", "pg_ctl", "pg_dump", "pg_restore"])
    m.put(`pg-debian/${b}`, "#!/bin/sh\n", true);
  t.true(probeSystem(m.root, "drill", { PATH: m.env.PATH }, join(m.dir, "pg-debian")).system.postgresql);
});

test("no node_modules, or one npm did not record, reads as missing or stale", (t) => {
  const m = fakeMachine(t);
  rmSync(join(m.root, "node_modules", ".package-lock.json"));
  t.deepEqual(probeSystem(m.root, "test", m.env).npm, {
    status: "stale",
    reason: "node_modules/.package-lock.json is missing",
  });
  rmSync(join(m.root, "node_modules"), { recursive: true });
  t.deepEqual(probeSystem(m.root, "test", m.env).npm, { status: "missing" });
});

test("no .tools/ and no .venv/ read as absent", (t) => {
  const m = fakeMachine(t);
  rmSync(join(m.root, ".tools"), { recursive: true });
  rmSync(join(m.root, ".venv"), { recursive: true });
  const state = probeSystem(m.root, "test", m.env);
  t.is(state.node.tools, null);
  t.deepEqual(state.venv, { python: false, moto: null, hadolint: false });
});

test("the probe reads package.json's engines for the Node major the project needs", (t) => {
  const m = fakeMachine(t);
  m.put("repo/package.json", { name: "fake", engines: { node: "^26.1.0" } });
  t.is(probeSystem(m.root, "test", m.env).node.requiredMajor, 26);
});
