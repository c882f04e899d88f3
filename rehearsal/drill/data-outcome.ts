/**
 * What the recovery brought back, judged against what the writers were told (pure). A crash:
 * every acknowledged commit is back or counted as lost, the recovered commits of each writer are
 * a prefix of its acknowledged ones (no holes), and the achieved RPO is the time from the last
 * acknowledged commit to the last one that came back. A destructive statement: exactly the rows
 * committed before it are back.
 */
import type { Ack, WriterLog } from "./writers.ts";

export interface CrashOutcome {
  acknowledged: number;
  /** Acknowledged commits that are back. */
  back: number;
  /** Acknowledged commits that are not: the data the crash lost. */
  lost: number;
  /** Up to 20 of the lost tickets (ids), oldest first. */
  lostSample: number[];
  /** Recovered rows no acknowledgement names: commits in flight at the crash (allowed, at most one per writer). */
  inFlightBack: number;
  /** An acknowledged commit missing while a later one of the same writer is back (must be empty). */
  holes: { writer: number; missing: number; laterBack: number }[];
  lastAcknowledgedAt: string | null;
  /** When the newest acknowledged commit that is back was acknowledged. */
  lastBackAt: string | null;
  /** Last acknowledged → last back (a lower bound from the writers' start when none came back). */
  rpoSeconds: number;
  rpoBasis: string;
  ok: boolean;
  problems: string[];
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Pure: the crash's outcome from the writers' log and the writer rows (ticket ids) present after recovery. */
export function crashOutcome(log: WriterLog, backIds: ReadonlySet<number>): CrashOutcome {
  const acked = new Set(log.acks.map((a) => a.ticketId));
  const back = log.acks.filter((a) => backIds.has(a.ticketId));
  const lost = log.acks.filter((a) => !backIds.has(a.ticketId));
  const extra = [...backIds].filter((id) => !acked.has(id));
  const holes: CrashOutcome["holes"] = [];
  const writers = new Set(log.acks.map((a) => a.writer));
  for (const w of writers) {
    const mine = log.acks.filter((a) => a.writer === w);
    const lastBackIndex = mine.findLastIndex((a) => backIds.has(a.ticketId));
    for (const a of mine.slice(0, Math.max(0, lastBackIndex)))
      if (!backIds.has(a.ticketId))
        holes.push({ writer: w, missing: a.ticketId, laterBack: mine[lastBackIndex]!.ticketId });
  }
  const problems: string[] = [];
  if (holes.length)
    problems.push(
      `${holes.length} acknowledged commit(s) missing while later commits of the same writer are back (e.g. ticket ${holes[0]!.missing}, later ${holes[0]!.laterBack}): the recovery is not a consistent point in time`,
    );
  if (extra.length > log.inFlight.length)
    problems.push(
      `${extra.length} recovered sale(s) no writer was told about, but only ${log.inFlight.length} commit(s) were in flight at the crash`,
    );
  const lastAck = log.acks.reduce<Ack | null>((m, a) => (!m || a.at > m.at ? a : m), null);
  const lastBack = back.reduce<Ack | null>((m, a) => (!m || a.at > m.at ? a : m), null);
  let rpo = 0;
  let basis: string;
  if (!lastAck) basis = "no commit was acknowledged before the crash";
  else if (lastBack) {
    rpo = (lastAck.at - lastBack.at) / 1000;
    basis = lost.length
      ? `last acknowledged commit ${iso(lastAck.at)} − last one back ${iso(lastBack.at)}`
      : "every acknowledged commit is back";
  } else {
    rpo = (lastAck.at - log.startedAt) / 1000;
    basis = `none of the ${log.acks.length} acknowledged commits is back: last acknowledged ${iso(lastAck.at)} − writers' start ${iso(log.startedAt)} (at least)`;
  }
  return {
    acknowledged: log.acks.length,
    back: back.length,
    lost: lost.length,
    lostSample: lost.slice(0, 20).map((a) => a.ticketId),
    inFlightBack: extra.length,
    holes,
    lastAcknowledgedAt: lastAck ? iso(lastAck.at) : null,
    lastBackAt: lastBack ? iso(lastBack.at) : null,
    rpoSeconds: Math.round(rpo * 1000) / 1000,
    rpoBasis: basis,
    ok: problems.length === 0,
    problems,
  };
}

/** The destructive statement, as the drill recorded it. */
export interface Destruction {
  statement: string;
  xid: string;
  committedAt: string;
  /** Rows it removed (every payment committed before it). */
  rowsRemoved: number;
  /** Writer tickets whose payment it removed: the writer commits before it. */
  writerTicketsBefore: number[];
}

export interface BadDataOutcome {
  statement: string;
  xid: string;
  /** Payments before the statement, and how many the recovered database holds (must be equal). */
  paymentsBefore: number;
  paymentsBack: number;
  /** Writer commits before the statement that are missing (must be empty). */
  missingBefore: number[];
  /** Writer commits after the statement that are present (must be empty: they followed the damage). */
  presentAfter: number[];
  /** Acknowledged commits after the statement: not in the recovered database, by design. */
  commitsAfterStatement: number;
  /** The statement's commit − the last commit acknowledged before it. */
  rpoSeconds: number;
  rpoBasis: string;
  ok: boolean;
  problems: string[];
}

/** Pure: the bad-data outcome from the statement, the writers' log and the recovered database's rows. */
export function badDataOutcome(
  d: Destruction,
  log: WriterLog,
  back: { payments: number; writerTicketsWithPayment: ReadonlySet<number>; writerTickets: ReadonlySet<number> },
): BadDataOutcome {
  const before = new Set(d.writerTicketsBefore);
  const after = log.acks.filter((a) => !before.has(a.ticketId));
  const missingBefore = d.writerTicketsBefore.filter(
    (id) => !back.writerTickets.has(id) || !back.writerTicketsWithPayment.has(id),
  );
  const presentAfter = after.filter((a) => back.writerTickets.has(a.ticketId)).map((a) => a.ticketId);
  const problems: string[] = [];
  if (back.payments !== d.rowsRemoved)
    problems.push(`${back.payments} payments are back, but ${d.rowsRemoved} existed just before the statement`);
  if (missingBefore.length)
    problems.push(
      `${missingBefore.length} sale(s) committed before the statement are missing (e.g. ticket ${missingBefore[0]})`,
    );
  if (presentAfter.length)
    problems.push(
      `${presentAfter.length} sale(s) committed after the statement are present (e.g. ticket ${presentAfter[0]})`,
    );
  const lastBefore = log.acks.filter((a) => before.has(a.ticketId)).reduce((m, a) => Math.max(m, a.at), 0);
  const committed = Date.parse(d.committedAt);
  const rpo = lastBefore ? Math.max(0, (committed - lastBefore) / 1000) : 0;
  return {
    statement: d.statement,
    xid: d.xid,
    paymentsBefore: d.rowsRemoved,
    paymentsBack: back.payments,
    missingBefore,
    presentAfter,
    commitsAfterStatement: after.length,
    rpoSeconds: Math.round(rpo * 1000) / 1000,
    rpoBasis: lastBefore
      ? `recovered to just before transaction ${d.xid}: its commit ${d.committedAt} − the last sale acknowledged before it ${iso(lastBefore)}`
      : `recovered to just before transaction ${d.xid}`,
    ok: problems.length === 0,
    problems,
  };
}
