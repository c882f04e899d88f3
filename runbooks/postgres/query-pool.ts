/**
 * Counting queries run side by side: up to `width` connections to one database (the caller's,
 * plus ones opened on demand and closed again), each prepared like the caller's. A query asked
 * twice — a profile's check that is also a declared foreign key — runs once and both askers get
 * its result. PostgreSQL may still use parallel query inside each.
 */
import type pg from "pg";

export interface QueryPoolOptions {
  /** Opens another connection to the same database. Without it, everything runs on `client`. */
  connect?: () => Promise<pg.Client>;
  /** How many queries run at once (default 1). */
  width?: number;
  /** Statements every opened connection runs first (the caller's has run them already). */
  prepare?: readonly string[];
}

export class QueryPool {
  private readonly idle: pg.Client[];
  private readonly opened: pg.Client[] = [];
  private readonly waiting: ((c: pg.Client) => void)[] = [];
  private readonly memo = new Map<string, Promise<number>>();
  private readonly width: number;
  private readonly o: QueryPoolOptions;
  private open = 1;

  constructor(client: pg.Client, o: QueryPoolOptions = {}) {
    this.o = o;
    this.idle = [client];
    this.width = o.connect ? Math.max(1, Math.floor(o.width ?? 1)) : 1;
  }

  /** The number the single-row, single-column query `sql` returns (run once per distinct text). */
  number(sql: string): Promise<number> {
    let p = this.memo.get(sql);
    if (!p) {
      p = this.run(sql);
      p.catch(() => {}); // awaited by the caller, maybe after another check failed
      this.memo.set(sql, p);
    }
    return p;
  }

  /** Closes the connections it opened (never the caller's). */
  async close(): Promise<void> {
    await Promise.all(this.opened.map((c) => c.end().catch(() => {})));
  }

  private async run(sql: string): Promise<number> {
    const c = await this.acquire();
    try {
      const { rows } = await c.query<Record<string, unknown>>(sql);
      return Number(Object.values(rows[0] ?? {})[0]);
    } finally {
      this.release(c);
    }
  }

  private async acquire(): Promise<pg.Client> {
    const free = this.idle.pop();
    if (free) return free;
    if (this.open < this.width) {
      this.open++;
      const c = await this.o.connect!();
      this.opened.push(c);
      for (const statement of this.o.prepare ?? []) await c.query(statement);
      return c;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(c: pg.Client): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else this.idle.push(c);
  }
}
