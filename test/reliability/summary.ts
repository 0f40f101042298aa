/**
 * What each scenario did and found, for the table printed at the end of the run and written to
 * reports/reliability.md: requests sent, outcomes by status, charges at Clover against what the
 * scenario expected, ledger records lost, card-data leaks. A scenario is begun and finished by
 * its describe block; responses are counted on it as they arrive (harness.ts `api`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { leaksIn } from './leaks';

export interface ScenarioRow {
  name: string;
  requests: number;
  outcomes: Record<string, number>;
  cloverCharges: number;
  expectedCharges: number;
  lost: number;
  /** Charges or refunds still `pending` after the scenario reconciled. */
  pendingLeft: number;
  leaks: string[];
  notes: string[];
  /** Contract deviations seen (reported, not hidden): see the report at the end. */
  findings: string[];
  /** Events the scenario's committed changes must produce, those delivered (2xx, unique webhook-id), and repeats. */
  events?: { expected: number; delivered: number; duplicated: number };
  outputMark: number;
  started: number;
  ms: number;
}

const rows: ScenarioRow[] = [];
let active: ScenarioRow | null = null;

export function beginScenario(name: string, outputMark: number): ScenarioRow {
  active = {
    name,
    requests: 0,
    outcomes: {},
    cloverCharges: 0,
    expectedCharges: 0,
    lost: 0,
    pendingLeft: 0,
    leaks: [],
    notes: [],
    findings: [],
    outputMark,
    started: Date.now(),
    ms: 0,
  };
  rows.push(active);
  return active;
}

export function activeScenario(): ScenarioRow {
  if (!active) throw new Error('no scenario is running');
  return active;
}

export function endScenario(output: string): ScenarioRow {
  const row = activeScenario();
  row.leaks.push(...leaksIn(output).map((l) => `platform output: ${l}`));
  row.ms = Date.now() - row.started;
  active = null;
  return row;
}

/** Counts a response on the running scenario and scans its body for card data. */
export function recordResponse(r: { status: number; text: string }): void {
  if (!active) return;
  active.requests++;
  active.outcomes[r.status] = (active.outcomes[r.status] ?? 0) + 1;
  for (const l of leaksIn(r.text)) active.leaks.push(`response ${r.status}: ${l}`);
}

export function allRows(): readonly ScenarioRow[] {
  return rows;
}

const outcomesText = (o: Record<string, number>) =>
  Object.entries(o)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');

/** The summary as a Markdown document (a table, then notes and findings per scenario). */
export function renderSummary(meta: { seconds: number; seed: number }): string {
  const head = [
    'scenario',
    'requests',
    'outcomes (status×count)',
    'charges at Clover / expected',
    'records lost',
    'pending left',
    'leaks',
    'events expected / delivered / duplicated',
    's',
  ];
  const lines = [
    '# Reliability run',
    '',
    `${new Date().toISOString()} · ${meta.seconds.toFixed(0)} s · fuzz seed ${meta.seed}`,
    '',
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
  ];
  const total = { requests: 0, clover: 0, expected: 0, lost: 0, pending: 0, leaks: 0 };
  for (const r of rows) {
    lines.push(
      `| ${[
        r.name,
        r.requests,
        outcomesText(r.outcomes),
        `${r.cloverCharges} / ${r.expectedCharges}`,
        r.lost,
        r.pendingLeft,
        r.leaks.length,
        r.events ? `${r.events.expected} / ${r.events.delivered} / ${r.events.duplicated}` : '–',
        (r.ms / 1000).toFixed(0),
      ].join(' | ')} |`,
    );
    total.requests += r.requests;
    total.clover += r.cloverCharges;
    total.expected += r.expectedCharges;
    total.lost += r.lost;
    total.pending += r.pendingLeft;
    total.leaks += r.leaks.length;
  }
  lines.push(
    `| **total** | ${total.requests} | | ${total.clover} / ${total.expected} | ${total.lost} | ${total.pending} | ${total.leaks} | | ${meta.seconds.toFixed(0)} |`,
  );
  for (const r of rows) {
    if (r.notes.length + r.findings.length + r.leaks.length === 0) continue;
    lines.push('', `## ${r.name}`, '');
    for (const n of r.notes) lines.push(`- ${n}`);
    for (const f of r.findings) lines.push(`- **finding:** ${f}`);
    for (const l of r.leaks.slice(0, 20)) lines.push(`- **leak:** ${l}`);
  }
  return `${lines.join('\n')}\n`;
}

export function writeSummary(meta: { seconds: number; seed: number }): string {
  const text = renderSummary(meta);
  mkdirSync('reports', { recursive: true });
  writeFileSync('reports/reliability.md', text);
  return text;
}
