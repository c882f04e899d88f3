import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fc from "fast-check";
import { shQuote, walCommand } from "../../runbooks/postgres/shell-command.ts";
import { confLines, socketParent, UNIX_SOCKET_PATH_MAX } from "../../runbooks/postgres/cluster.ts";
import { archiveGetCommand, archivePushCommand, renderConfig } from "../../runbooks/postgres/pgbackrest.ts";
import { parsePostmasterPid } from "../../runbooks/postgres/recovered-cluster.ts";

const sh = promisify(execFile);
/** What `sh -c <command>` hands to `printf '%s\n'` as separate arguments. */
async function wordsOf(command: string): Promise<string[]> {
  const { stdout } = await sh("sh", ["-c", `printf '%s\\n' ${command}`]);
  return stdout.split("\n").slice(0, -1);
}

test("a value quoted for sh stays one argument whatever it holds, and runs nothing", async (t) => {
  const hostile = ["/tmp/x;touch /tmp/p;#", "a b", "it's", "$(id)", "`id`", "a\\b", '"q"', "*", "~root", "", "%p"];
  t.deepEqual(await wordsOf(hostile.map(shQuote).join(" ")), hostile);
  await fc.assert(
    fc.asyncProperty(
      fc.string({ unit: fc.constantFrom("a", " ", "'", '"', ";", "$", "`", "\\", "*", "&", "|", "#", "%") }),
      async (v) => {
        const words = await wordsOf(shQuote(v));
        return words.length === 1 && words[0] === v;
      },
    ),
    { numRuns: 60 },
  );
  t.is(shQuote("/var/lib/pgbackrest.conf"), "/var/lib/pgbackrest.conf", "plain paths stay readable");
});

test("a WAL command doubles % in its values (PostgreSQL's escape) and leaves its placeholders alone", (t) => {
  t.is(
    walCommand(["pgbackrest", "--config=/a 100%/x.conf", "archive-push"], ["%p"]),
    "pgbackrest '--config=/a 100%%/x.conf' archive-push %p",
  );
  const cfg = { configFile: "/c o'nf;/p.conf", stanza: "eventchain", dir: "/c o'nf;" };
  t.is(archivePushCommand(cfg), `pgbackrest '--config=/c o'\\''nf;/p.conf' --stanza=eventchain archive-push %p`);
  t.is(
    archiveGetCommand(cfg, "/d a;ta"),
    `pgbackrest '--config=/c o'\\''nf;/p.conf' --stanza=eventchain '--pg1-path=/d a;ta' archive-get %f "%p"`,
  );
  t.throws(() => walCommand(["a\nb"], []), {
    message: /invalid value "a\\nb": expected no newline or other control character/,
  });
});

test("postgresql.conf values are quoted as its parser reads them back, and a newline is refused", (t) => {
  t.is(confLines({ archive_command: `a 'b' c\\d`, port: 5 }), `archive_command = 'a ''b'' c\\\\d'\nport = 5`);
  t.throws(() => confLines({ archive_command: "a\nb" }), { message: /invalid value of archive_command "a\\nb"/ });
  t.throws(() => confLines({ "bad name": "x" }), { message: /invalid PostgreSQL setting name "bad name"/ });
});

test("pgbackrest.conf refuses a path holding a newline", (t) => {
  t.throws(
    () =>
      renderConfig({
        dir: "/d",
        stanza: "eventchain",
        repo: { type: "posix", path: "/r\n[evil]" },
        pgPath: "/p",
        pgPort: 1,
        pgSocket: "/s",
      }),
    { message: /invalid repoPath "\/r\\n\[evil\]"/ },
  );
});

test("socket directories go under the temp dir only when a socket there fits the Unix limit", (t) => {
  t.is(socketParent("/tmp"), "/tmp");
  t.is(socketParent("/var/tmp"), "/var/tmp");
  const long = `/home/runner/work/eventchain-dr/eventchain-dr/${"x".repeat(40)}`;
  t.is(socketParent(long), "/tmp");
  t.is(socketParent("/tmp/with space"), "/tmp", "unix_socket_directories splits on spaces and commas");
  t.true(`/tmp/ecdr-pg-XXXXXX/.s.PGSQL.65535`.length <= UNIX_SOCKET_PATH_MAX);
});

test("postmaster.pid gives the running server's pid, port and socket directory", (t) => {
  const text = "4242\n/data\n1764580000\n54321\n/tmp/ecdr-pg-abc\n127.0.0.1\n  5432001  12345\nready   \n";
  t.deepEqual(parsePostmasterPid(text), { pid: 4242, port: 54321, socketDir: "/tmp/ecdr-pg-abc" });
  t.is(parsePostmasterPid(""), null);
  t.is(parsePostmasterPid("x\n"), null);
});
