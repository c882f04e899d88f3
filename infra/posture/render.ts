/**
 * The posture report as a terminal table, as Markdown (a pull-request comment) and as JSON
 * (validated by `posture.schema.json`). Pure: a report in, text out.
 */
import { FIGURES, FIGURE_IDS } from "./figures.ts";
import { formatMinutes, type PostureReport, type ScenarioResult, type SystemPosture } from "./model.ts";
import { measuredMarkdownLines, measuredTableLines } from "./render-measured.ts";
import { backupPathLines } from "./backup-paths.ts";

const cell = (r: ScenarioResult) =>
  `${r.verdict === "met" ? "met" : "MISSED"} (RPO ${formatMinutes(r.rpoMinutes)}, RTO ${formatMinutes(r.rtoMinutes)})`;
const objective = (s: SystemPosture) =>
  `${formatMinutes(s.objective.rtoMinutes)} / ${formatMinutes(s.objective.rpoMinutes)}`;

function reasons(report: PostureReport): string[] {
  return report.systems.flatMap((s) => [
    ...s.inRegion.reasons.map((r) => `${s.system} (in-region): ${r}`),
    ...s.regional.reasons.map((r) => `${s.system} (regional): ${r}`),
  ]);
}

function header(report: PostureReport): string {
  const missed = report.systems.filter((s) => s.verdict === "missed").length;
  return report.verdict === "met"
    ? `every system meets its tier (${report.systems.length} systems)`
    : `${missed} of ${report.systems.length} systems MISS their tier`;
}

/** A plain-text table for the terminal. */
export function renderTable(report: PostureReport): string {
  const rows = [
    ["system", "tier", "RTO / RPO objective", "in-region failure", "regional disaster"],
    ...report.systems.map((s) => [s.system, s.tier, objective(s), cell(s.inRegion), cell(s.regional)]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const idWidth = Math.max(0, ...report.mechanisms.map((m) => m.id.length));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  const out = [
    `Posture of stack ${report.stack}: primary ${report.region}, DR ${report.peerRegion}`,
    "",
    line(rows[0]),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.slice(1).map(line),
    "",
    "Mechanisms (declared resources):",
    ...report.mechanisms.map(
      (m) =>
        `  ${m.id.padEnd(idWidth)}  ${m.protects.padEnd(15)} ${m.scope.padEnd(12)} RPO ${formatMinutes(m.rpoMinutes).padEnd(9)} restore ${formatMinutes(m.restoreMinutes).padEnd(9)} ${m.description}`,
    ),
    `Failover: ${report.failover.description}`,
    ...(report.backupPaths
      ? [
          "",
          "Backup paths and the heartbeat that pages when each stops:",
          ...backupPathLines(report.backupPaths).map((l) => `  ${l}`),
        ]
      : []),
    "",
    "How each system is modelled (and what is not covered):",
    ...report.systems.map((s) => `  ${s.system}: ${s.note}`),
  ];
  out.push(...measuredTableLines(report));
  const why = reasons(report);
  if (why.length) out.push("", "Why:", ...why.map((r) => `  - ${r}`));
  out.push("", header(report), "Figures and their sources: docs/posture.md, infra/posture/figures.ts");
  return out.join("\n");
}

/** Markdown for a pull-request comment. */
export function renderMarkdown(report: PostureReport): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|");
  const icon = (r: ScenarioResult) => (r.verdict === "met" ? "✅ met" : "❌ **missed**");
  const out = [
    `### DR posture — stack \`${report.stack}\` (primary ${report.region}, DR ${report.peerRegion})`,
    "",
    `**${report.verdict === "met" ? "✅" : "❌"} ${header(report)}**`,
    "",
    "| system | tier | RTO / RPO objective | in-region failure | regional disaster | protected by |",
    "|---|---|---|---|---|---|",
    ...report.systems.map(
      (s) =>
        `| ${s.system} | ${s.tier} | ${objective(s)} | ${icon(s.inRegion)}<br>RPO ${formatMinutes(s.inRegion.rpoMinutes)}, RTO ${formatMinutes(s.inRegion.rtoMinutes)} | ${icon(s.regional)}<br>RPO ${formatMinutes(s.regional.rpoMinutes)}, RTO ${formatMinutes(s.regional.rtoMinutes)} | ${esc(s.mechanisms.join(", ") || "nothing declared")} |`,
    ),
  ];
  const why = reasons(report);
  if (why.length) out.push("", "#### Why", ...why.map((r) => `- ${esc(r)}`));
  out.push(...measuredMarkdownLines(report));
  out.push(
    "",
    "<details><summary>Mechanisms, failover and figures</summary>",
    "",
    "| mechanism | protects | scope | worst-case RPO | restore | from |",
    "|---|---|---|---|---|---|",
    ...report.mechanisms.map(
      (m) =>
        `| ${m.id} | ${m.protects} | ${m.scope} | ${formatMinutes(m.rpoMinutes)} | ${formatMinutes(m.restoreMinutes)} | ${esc(m.description)} |`,
    ),
    "",
    `Failover: ${esc(report.failover.description)}`,
    ...(report.backupPaths
      ? [
          "",
          "Backup paths and the heartbeat that pages when each stops:",
          "",
          ...backupPathLines(report.backupPaths).map((l) => `- ${esc(l)}`),
        ]
      : []),
    "",
    "How each system is modelled (and what is not covered):",
    "",
    ...report.systems.map((s) => `- **${s.system}**: ${esc(s.note)}`),
    "",
    "| figure | value | kind | source |",
    "|---|---|---|---|",
    ...FIGURE_IDS.map(
      (id) => `| ${id} | ${FIGURES[id].value} ${FIGURES[id].unit} | ${FIGURES[id].kind} | ${esc(FIGURES[id].source)} |`,
    ),
    "",
    "</details>",
  );
  return out.join("\n");
}

/** JSON matching `posture.schema.json`. */
export function renderJson(report: PostureReport): string {
  return JSON.stringify(report, null, 2);
}
