/**
 * Suite 3: point-in-time recovery with pgBackRest, from a posix repository (the judged figure)
 * and from an S3 repository on moto behind stunnel (bounded by moto's CPU, reported only).
 */
import { join } from "node:path";
import { interleave, type CaseResult } from "./harness.ts";
import { ratio, value } from "./bench-results.ts";
import { FLOOR_UNTAR } from "./floor.ts";
import { PLAN_RESTORE } from "./plan-pipeline.ts";
import { preparePitr, pitrCase } from "./pitr.ts";
import { startTlsFront } from "./tls-front.ts";
import { createBucket, ensureMoto, type SuiteRunner } from "./bench-context.ts";

const PGBACKREST_BUCKET = "eventchain-bench-pgbackrest";

/**
 * PITR against a floor that includes PostgreSQL's own redo of the same WAL: untar (copying the
 * bytes) + the redo time the recovered server logged. "Ready for writes" and "verified" each.
 */
export function pitrFloorRatios(pitr: CaseResult | undefined, untar: CaseResult | undefined) {
  const redo = pitr?.metrics?.redoSeconds;
  const floor = untar && !untar.error && redo !== undefined ? untar.seconds + redo : null;
  const of = (key: "readyForWritesSeconds" | "verifiedSeconds") => {
    const v = pitr?.metrics?.[key];
    return floor && v !== undefined && !pitr?.error ? v / floor : null;
  };
  return [
    value("pitr.floor_untar_redo", "floor: untar + PostgreSQL's redo of the same WAL", floor, "s"),
    value("pitr.ready_vs_floor", "PITR ready for writes ÷ (untar + redo)", of("readyForWritesSeconds"), "×"),
    value("pitr.verified_vs_floor", "PITR verified ÷ (untar + redo)", of("verifiedSeconds"), "×", {
      op: "<=",
      value: 1.25,
    }),
  ];
}

/** WAL written between the base backup and T: the fixed amount every PITR repetition replays. */
export const PITR_WAL_BYTES = { quick: 16 * 1024 ** 2, full: 256 * 1024 ** 2 };

/** The PITR suite: posix repository (the judged figure), then the S3 repository on moto behind stunnel. */
export const pitrSuite: SuiteRunner = async (ctx, progress) => {
  const d = ctx.dataset!;
  const walBytes = ctx.options.quick ? PITR_WAL_BYTES.quick : PITR_WAL_BYTES.full;
  const notes: string[] = [];
  const cases: CaseResult[] = [];
  const posixDir = join(ctx.workDir, "pgbackrest-posix");
  const posix = await preparePitr(d, {
    dir: posixDir,
    stanza: "bench-posix",
    repo: { type: "posix", path: join(posixDir, "repo") },
    walBytes,
  });
  notes.push(
    `posix repository: full backup (lz4, 2 processes) ${posix.backupSeconds.toFixed(2)} s for ${(posix.backupBytes / 1e6).toFixed(0)} MB ` +
      `(${(posix.backupBytes / 1e6 / posix.backupSeconds).toFixed(0)} MB/s); ${(posix.walBytes / 1e6).toFixed(0)} MB of WAL from the backup's end to T.`,
  );
  cases.push(
    ...(await interleave(
      [
        pitrCase(d, () => posix, {
          id: "ours.pitr_posix",
          label: "ours: PITR from a posix pgBackRest repository",
          workDir: ctx.workDir,
        }),
      ],
      ctx.options.reps,
      progress,
    )),
  );

  // S3 repository: pgBackRest speaks HTTPS only; moto is plain HTTP, so stunnel goes in front.
  const { moto } = await ensureMoto(ctx);
  const tls = await startTlsFront(moto.port);
  ctx.cleanups.push(() => tls.stop());
  await createBucket(moto.endpoint, PGBACKREST_BUCKET);
  // The emulator's placeholder keys reach archive-push through the server's environment
  // (the server restarts inside enableArchiving); never written to a file.
  Object.assign(process.env, { PGBACKREST_REPO1_S3_KEY: "test", PGBACKREST_REPO1_S3_KEY_SECRET: "test" });
  const s3Dir = join(ctx.workDir, "pgbackrest-s3");
  const onS3 = await preparePitr(d, {
    dir: s3Dir,
    stanza: "bench-s3",
    repo: {
      type: "s3",
      bucket: PGBACKREST_BUCKET,
      endpoint: "localhost",
      port: tls.port,
      region: "us-east-1",
      path: "/pgbackrest",
      caFile: tls.caFile,
      uriStyle: "path",
      keyType: "shared",
    },
    walBytes,
  });
  notes.push(
    `S3 repository on moto (stunnel, TCP_NODELAY): full backup ${onS3.backupSeconds.toFixed(2)} s (${(onS3.backupBytes / 1e6 / onS3.backupSeconds).toFixed(0)} MB/s); ` +
      "moto's own CPU bounds this figure on 2 cores, so it is reported, not judged.",
  );
  cases.push(
    ...(await interleave(
      [
        pitrCase(d, () => onS3, {
          id: "ours.pitr_s3",
          label: "ours: PITR from the S3 repository on moto",
          workDir: ctx.workDir,
        }),
      ],
      ctx.options.reps,
      progress,
    )),
  );

  const untar = ctx.done?.get("floor")?.cases.find((c) => c.id === FLOOR_UNTAR);
  const planRestore = ctx.done?.get("logical")?.cases.find((c) => c.id === PLAN_RESTORE);
  const get = (id: string) => cases.find((c) => c.id === id);
  const walRate = (id: string) => get(id)?.metrics?.walMBps ?? null;
  for (const c of cases) {
    const redo = c.metrics?.redoSeconds;
    const replay = c.phases?.["start + WAL replay + promote"];
    if (redo !== undefined && replay !== undefined) {
      notes.push(
        `${c.label}: PostgreSQL's redo (restore_command fetches + replay) took ${redo.toFixed(2)} s of the ${replay.toFixed(2)} s start + replay + promote phase.`,
      );
    }
  }
  notes.push(
    "MB/s = bytes of the restored cluster (pgBackRest's backup size) ÷ seconds; WAL MB/s = WAL bytes ÷ PostgreSQL's logged redo time.",
  );
  return {
    id: "pitr",
    title: "",
    cases,
    ratios: [
      ratio("pitr.posix_vs_untar", "PITR (posix repo) ÷ untar floor", get("ours.pitr_posix"), untar, {
        op: "<=",
        value: 1.25,
      }),
      ratio(
        "pitr.plan_restore_vs_posix",
        "plan's logical restore ÷ PITR (posix repo)",
        planRestore,
        get("ours.pitr_posix"),
        { op: ">=", value: 5 },
      ),
      value(
        "pitr.plan_restore_vs_pgbackrest_restore",
        "plan's logical restore ÷ pgBackRest's restore phase alone (no replay, no verify)",
        planRestore && !planRestore.error && get("ours.pitr_posix")?.phases?.["pgbackrest restore"]
          ? planRestore.seconds / get("ours.pitr_posix")!.phases!["pgbackrest restore"]!
          : null,
        "×",
      ),
      ratio("pitr.s3_vs_untar", "PITR (S3 repo on moto) ÷ untar floor", get("ours.pitr_s3"), untar),
      ...pitrFloorRatios(get("ours.pitr_posix"), untar),
      value("pitr.posix_wal_rate", "WAL replayed, posix repo", walRate("ours.pitr_posix"), "MB/s"),
      value("pitr.s3_wal_rate", "WAL replayed, S3 repo", walRate("ours.pitr_s3"), "MB/s"),
    ],
    notes,
  };
};
