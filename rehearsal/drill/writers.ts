/**
 * The application's writers: each sells tickets on its own connection, one transaction each,
 * at a steady pace, and records on the client side every commit the server acknowledged (the
 * ticket id and when the acknowledgement arrived). A commit whose acknowledgement never came
 * (the server died meanwhile) is "in flight": it may or may not have committed. The writers stop
 * when told to, or on their own when the server goes away (the disaster).
 */
import type pg from "pg";
import { sellTicket } from "../stand-ins/eventchain-schema.ts";

export interface Ack {
  writer: number;
  /** The ticket sold (ids grow per writer: each writer's commits are in order). */
  ticketId: number;
  /** When the acknowledgement arrived, ms since the epoch (sub-millisecond). */
  at: number;
}

export interface WriterLog {
  acks: Ack[];
  /** Per writer: when its unanswered commit was sent, if one was (the disaster struck meanwhile). */
  inFlight: { writer: number; sentAt: number }[];
  /** Per writer: the error that stopped it, if it did not stop when told. */
  errors: { writer: number; message: string }[];
  startedAt: number;
  stoppedAt: number | null;
}

export interface Writers {
  readonly log: WriterLog;
  /** Resolves once `n` commits in all have been acknowledged (rejects when every writer died before). */
  untilAcked(n: number): Promise<void>;
  /** Stops every writer after its current commit. */
  stop(): Promise<WriterLog>;
  /** Waits for every writer to stop on its own (the server is gone). */
  stopped(): Promise<WriterLog>;
}

const now = () => performance.timeOrigin + performance.now();

/**
 * Starts `clients.length` writers, each one transaction every `clients.length / commitsPerSecond`
 * seconds (paced: a load, not a flood, so archive_timeout, not segment size, decides).
 */
export function startWriters(clients: pg.Client[], commitsPerSecond: number): Writers {
  const log: WriterLog = { acks: [], inFlight: [], errors: [], startedAt: now(), stoppedAt: null };
  const interval = (clients.length * 1000) / commitsPerSecond;
  let stopping = false;
  const waiters: { n: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  const settle = () => {
    for (const w of [...waiters]) {
      if (log.acks.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const loops = clients.map(async (client, writer) => {
    client.on("error", () => {}); // the disaster ends the connection; the failing query says so
    let next = now();
    while (!stopping) {
      const sentAt = now();
      try {
        const ticketId = await sellTicket(client);
        log.acks.push({ writer, ticketId, at: now() });
        settle();
      } catch (error) {
        if (!stopping) {
          log.inFlight.push({ writer, sentAt });
          log.errors.push({ writer, message: (error as Error).message });
        }
        return;
      }
      next += interval;
      const wait = next - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = now();
    }
  });
  const all = Promise.all(loops).then(() => {
    log.stoppedAt = now();
    for (const w of waiters.splice(0))
      w.reject(
        new Error(
          `the writers stopped after ${log.acks.length} commits, before ${w.n}: ${log.errors[0]?.message ?? "stopped"}`,
        ),
      );
    return log;
  });
  return {
    log,
    untilAcked(n) {
      if (log.acks.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => waiters.push({ n, resolve, reject }));
    },
    async stop() {
      stopping = true;
      return all;
    },
    stopped: () => all,
  };
}
