/**
 * A tiny authoritative DNS server on loopback (UDP), for tests and drills: the emulator answers no
 * DNS, and "clients moved" is proven by resolving against the zone's name servers. It answers one
 * question per query with what `answer` returns (a CNAME, or NXDOMAIN), authoritative, no
 * recursion, and can be made to stop answering (`setSilent`) like an unreachable name server.
 * Only what a resolver needs is implemented (RFC 1035 §4: header, question, one answer record).
 */
import { createSocket, type RemoteInfo } from "node:dgram";

export type DnsAnswer =
  | {
      /** Target of the CNAME (without trailing dot). */
      cname: string;
      ttl: number;
    }
  | {
      /** IPv4 addresses of an A record (Route 53 answers an alias record with its target's addresses). */
      addresses: string[];
      ttl: number;
    };

/** What to answer for `name` (lower case, no trailing dot) and `type` (e.g. "CNAME", "A"); undefined = NXDOMAIN. */
export type Answerer = (name: string, type: string) => Promise<DnsAnswer | undefined> | DnsAnswer | undefined;

export interface DnsServer {
  /** `127.0.0.1:<port>`, as `failover.nameServers` holds it. */
  address: string;
  port: number;
  /** Queries seen, in order. */
  queries: { name: string; type: string }[];
  /** When true, queries are dropped unanswered (a server that does not answer). */
  setSilent(silent: boolean): void;
  close(): Promise<void>;
}

const TYPES: Record<number, string> = { 1: "A", 5: "CNAME", 28: "AAAA", 16: "TXT", 2: "NS", 6: "SOA" };

function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let i = offset;
  for (let guard = 0; guard < 128; guard++) {
    const len = buf[i];
    if (len === undefined) throw new Error("truncated name");
    if (len === 0) return { name: labels.join(".").toLowerCase(), next: i + 1 };
    if ((len & 0xc0) !== 0) throw new Error("compressed names are not expected in a question");
    labels.push(buf.toString("latin1", i + 1, i + 1 + len));
    i += 1 + len;
  }
  throw new Error("name too long");
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, "").split(".").filter(Boolean);
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "latin1")])),
    Buffer.from([0]),
  ]);
}

/** The response to `query` (a DNS message) given the answer, or undefined for a malformed query. */
export function respond(query: Buffer, answer: DnsAnswer | undefined): Buffer {
  const { next } = readName(query, 12);
  const question = query.subarray(12, next + 4);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = query[2]! & 0x01;
  header[2] = 0x80 | 0x04 | rd; // QR, AA, RD copied
  header[3] = answer ? 0 : 3; // NOERROR / NXDOMAIN (no RA: authoritative only)
  header.writeUInt16BE(1, 4);
  const records = !answer ? [] : "cname" in answer ? [cnameRecord(answer.cname)] : answer.addresses.map(aRecord);
  header.writeUInt16BE(records.length, 6);
  if (!answer) return Buffer.concat([header, question]);
  return Buffer.concat([
    header,
    question,
    ...records.flatMap(({ type, rdata }) => {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(answer.ttl, 6);
      rr.writeUInt16BE(rdata.length, 10);
      return [rr, rdata];
    }),
  ]);
}

/** A CNAME record's type and data (also the answer to an A question: the resolver follows it). */
const cnameRecord = (target: string) => ({ type: 5, rdata: encodeName(target) });
/** An A record's type and data. */
const aRecord = (address: string) => ({ type: 1, rdata: Buffer.from(address.split(".").map(Number)) });

export async function startDnsServer(answer: Answerer): Promise<DnsServer> {
  const socket = createSocket("udp4");
  const queries: DnsServer["queries"] = [];
  let silent = false;
  socket.on("message", (msg: Buffer, rinfo: RemoteInfo) => {
    void (async () => {
      try {
        const { name, next } = readName(msg, 12);
        const qtype = msg.readUInt16BE(next);
        const type = TYPES[qtype] ?? String(qtype);
        queries.push({ name, type });
        if (silent) return;
        const a = await answer(name, type);
        socket.send(respond(msg, a), rinfo.port, rinfo.address);
      } catch {
        // A malformed query gets no answer, as from a server that drops it.
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve());
  });
  const port = socket.address().port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    setSilent: (s) => {
      silent = s;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
