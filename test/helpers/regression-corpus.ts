/**
 * A foreign corpus nobody here wrote: PostgreSQL's own regression database, built by
 * `pg_regress` (from the server package) with the regression suite of the distribution's source
 * package for the installed server version, on a throwaway server of ours.
 *
 * The source comes from the Debian archive through apt (`apt-get source --download-only`, with
 * a private `deb-src` list and lists directory under `.corpus/` in the clone: the machine's apt
 * configuration is not changed). The suite's C helpers (`regress.so`) are compiled from that
 * source (`configure` without optional libraries, the backend's generated headers, one file);
 * `autoinc.so` and `refint.so` are the server package's own. Everything is kept under
 * `.corpus/` (git-ignored) so that a second run only runs the suite again.
 */
import { existsSync } from "node:fs";
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { $ } from "zx";
import { serviceUserIds, type LocalPostgres } from "../../runbooks/postgres/cluster.ts";

export const CORPUS_DIR = resolve(".corpus");

/** Where a step's time goes, for the runner's report. */
export type Timings = Record<string, number>;

async function timed<T>(timings: Timings, step: string, f: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await f();
  } finally {
    timings[step] = (Date.now() - started) / 1000;
  }
}

/** The Debian version of the installed server package, e.g. `15.18-0+deb12u1`. */
export async function installedServerPackage(): Promise<{ name: string; version: string; upstream: string }> {
  const r = await $({ quiet: true, nothrow: true })`dpkg-query -W -f=${"${Version}"} postgresql-15`;
  if (r.exitCode !== 0 || !r.stdout.trim())
    throw new Error(
      "the corpus needs the Debian package postgresql-15 (dpkg-query found none): apt-get install postgresql-15",
    );
  const version = r.stdout.trim();
  return { name: "postgresql-15", version, upstream: version.replace(/^\d+:/, "").replace(/-[^-]+$/, "") };
}

/** Pure: `deb-src` lines for a Debian release (main archive, updates and security). */
export function debSrcLines(codename: string): string {
  if (!/^[a-z]+$/.test(codename)) throw new Error(`invalid Debian codename "${codename}": expected lower-case letters`);
  const key = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
  return [
    `deb-src ${key} http://deb.debian.org/debian ${codename} main`,
    `deb-src ${key} http://deb.debian.org/debian ${codename}-updates main`,
    `deb-src ${key} http://deb.debian.org/debian-security ${codename}-security main`,
  ].join("\n");
}

/** Downloads and unpacks the source package into `.corpus/src/postgresql-<upstream>` (once). */
async function sourceTree(timings: Timings): Promise<string> {
  const pkg = await installedServerPackage();
  const tree = join(CORPUS_DIR, "src", `postgresql-${pkg.upstream}`);
  if (existsSync(join(tree, "src", "test", "regress", "parallel_schedule"))) return tree;
  const osRelease = await readFile("/etc/os-release", "utf8");
  const codename = /^VERSION_CODENAME=(\w+)$/m.exec(osRelease)?.[1];
  if (!codename || !/^ID=debian$/m.test(osRelease))
    throw new Error(
      "the corpus fetches PostgreSQL's source from the Debian archive: expected Debian (/etc/os-release)",
    );
  const apt = join(CORPUS_DIR, "apt");
  await mkdir(join(apt, "lists", "partial"), { recursive: true });
  await mkdir(join(apt, "archives", "partial"), { recursive: true });
  await writeFile(join(apt, "sources.list"), debSrcLines(codename) + "\n");
  const options = [
    ...["-o", `Dir::Etc::SourceList=${join(apt, "sources.list")}`, "-o", "Dir::Etc::SourceParts=/dev/null"],
    ...["-o", `Dir::State::Lists=${join(apt, "lists")}`, "-o", `Dir::Cache::Archives=${join(apt, "archives")}`],
  ];
  await timed(
    timings,
    "apt-get update (deb-src, private lists)",
    () => $({ quiet: true })`apt-get -q ${options} update`,
  );
  const src = join(CORPUS_DIR, "src");
  await mkdir(src, { recursive: true });
  await timed(
    timings,
    `apt-get source ${pkg.name}=${pkg.version}`,
    () => $({ quiet: true, cwd: src })`apt-get -q ${options} source --download-only ${`${pkg.name}=${pkg.version}`}`,
  );
  const tarball = (await readdir(src)).find((f) => /^postgresql-15_.*\.orig\.tar\.(bz2|gz|xz)$/.test(f));
  if (!tarball) throw new Error(`apt-get source left no orig tarball in ${src}`);
  await timed(timings, "unpack the source", () => $({ quiet: true, cwd: src })`tar xf ${tarball}`);
  return tree;
}

/** Compiles the suite's `regress.so` in the source tree (once). */
async function regressLibrary(tree: string, timings: Timings): Promise<string> {
  const lib = join(tree, "src", "test", "regress", "regress.so");
  if (existsSync(lib)) return lib;
  await timed(
    timings,
    "configure (no optional libraries)",
    () => $({ quiet: true, cwd: tree })`./configure --without-readline --without-zlib --without-icu --without-llvm`,
  );
  await timed(timings, "compile regress.so", async () => {
    await $({ quiet: true, cwd: tree })`make -s -C src/backend generated-headers`;
    await $({ quiet: true, cwd: tree })`make -s -C src/test/regress regress.so`;
  });
  return lib;
}

/**
 * Builds the `regression` database on `server` (its superuser connection) with pg_regress's
 * parallel schedule. Returns the suite's summary line and the time of each step.
 */
export async function buildRegressionDatabase(server: LocalPostgres): Promise<{ summary: string; timings: Timings }> {
  const timings: Timings = {};
  const tree = await sourceTree(timings);
  const lib = await regressLibrary(tree, timings);
  // The server (the postgres user) reads the suite's data files and loads its libraries.
  const work = await mkdtemp(join(tmpdir(), "eventchain-corpus-"));
  try {
    const regress = join(work, "regress");
    await cp(join(tree, "src", "test", "regress"), regress, { recursive: true });
    // The database's C functions name this path: it lives as long as the server (its own directory).
    const dlpath = join(server.baseDir, "regress-lib");
    await mkdir(dlpath);
    await copyFile(lib, join(dlpath, "regress.so"));
    const pkgLib = "/usr/lib/postgresql/15/lib";
    for (const so of ["autoinc.so", "refint.so"]) await symlink(join(pkgLib, so), join(dlpath, so));
    const ids = await serviceUserIds("postgres");
    if (ids) await $({ quiet: true })`chown -R ${`${ids.uid}:${ids.gid}`} ${work} ${dlpath}`;
    await chmod(work, 0o755);
    const pgRegress = "/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress";
    if (!existsSync(pgRegress))
      throw new Error(`pg_regress not found at ${pgRegress}: it comes with the postgresql-15 package`);
    const conn = server.connection();
    const r = await timed(
      timings,
      "pg_regress --schedule=parallel_schedule",
      () =>
        $({
          quiet: true,
          nothrow: true,
          cwd: regress,
          env: { ...process.env, PGPASSWORD: conn.password },
        })`${pgRegress} --inputdir=. --outputdir=${regress} --bindir=${server.binDir} --dlpath=${dlpath} --host=${conn.host} --port=${conn.port} --user=${conn.user} --schedule=parallel_schedule --max-connections=20`,
    );
    const summary =
      r.stdout
        .split("\n")
        .map((l) => l.trim())
        .find((l) => /tests passed|tests? failed|of \d+ tests/.test(l)) ?? `pg_regress exited ${r.exitCode}`;
    const [db] = await server.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_database WHERE datname = 'regression'",
    );
    if (Number(db!.n) !== 1)
      throw new Error(`pg_regress left no regression database (${summary}): ${r.stderr.trim().slice(-500)}`);
    return { summary, timings };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
