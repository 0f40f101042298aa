import type { EventThroughput } from './event-delivery';
/**
 * Turns the phase results into the printed table, reports/bench.md and reports/bench.json.
 */

import type { SynthResult } from '../local/build';
import type { ColdResult } from './cold';
import type { CostResult, Measured, Scenario } from './cost';
import type { OpCounts, Summary } from './counts';
import type { LoadRun } from './load';
import { fmt } from './stats';
import type { WarmRow } from './warm';

export const FUNCTION_ORDER = [
  'health',
  'authorizer',
  'checkout-config',
  'tokens',
  'charges',
  'refunds',
  'checkout-sessions',
  'oauth-callback',
  'webhooks',
  'token-refresher',
  'reconciler',
];

export interface Target {
  readonly id: string;
  readonly target: string;
  readonly value: string;
  readonly met: boolean | null;
  readonly note: string;
}

export interface BenchResults {
  readonly startedAt: string;
  readonly machine: { node: string; cpus: number; loadavgStart: number[]; loadavgEnd: number[] };
  readonly durationS: number;
  readonly phasesS: Record<string, number>;
  readonly synth: Omit<SynthResult, 'functions'> & {
    functions: Omit<SynthResult['functions'][number], 'environment'>[];
  };
  readonly cold: ColdResult | null;
  readonly warm: WarmRow[];
  readonly counts: OpCounts[];
  readonly load: { health: LoadRun | null; checkoutConfig: LoadRun | null; charges: LoadRun | null };
  readonly platform: { dataRoot: string; persistentEmulator: boolean };
  readonly cost: {
    readonly measured: Measured;
    readonly scenario: Scenario;
    readonly result: CostResult;
    readonly defaults: CostResult['lines'];
    readonly whatIf: { label: string; targetUsd: number; totalUsd: number }[];
  } | null;
  /** Events delivered per second, end to end, and their cost (bench/event-delivery.ts). */
  readonly events: EventThroughput | null;
  readonly targets: Target[];
  readonly notes: string[];
}

const kb = (n: number) => (n / 1024).toFixed(1);
const calls = (s: Summary | undefined) =>
  s ? `${s.dynamoWrites}w/${s.dynamoReads}r sm${s.secretsCalls} cl${s.cloverCalls}` : '';

export function mainTable(r: BenchResults): string[][] {
  const header = [
    'function',
    'bundle KB',
    'naive KB',
    'import ms',
    '×naive',
    'import CPU ms',
    '×naive CPU',
    'warm p50/p99 ms',
    'own p50/p99 ms',
    'calls cold',
    'calls warm',
    'rps @16 (err)',
  ];
  const rows: string[][] = [header];
  const opByFn: Record<string, string> = {
    charges: 'charge',
    refunds: 'refund',
    tokens: 'tokenize',
    'checkout-config': 'checkout-config',
    authorizer: 'authorizer',
  };
  for (const name of FUNCTION_ORDER) {
    const fn = r.synth.functions.find((f) => f.name === name);
    if (!fn) continue;
    const c = r.cold?.rows.find((x) => x.name === name);
    const w = r.warm.find((x) => x.fn === name && x.op !== 'authorizer');
    const wa = r.warm.find((x) => x.fn === name && x.op === 'authorizer');
    const k = r.counts.find((x) => x.op === opByFn[name]);
    const load =
      name === 'checkout-config'
        ? r.load.checkoutConfig
        : name === 'charges'
          ? r.load.charges
          : name === 'health'
            ? r.load.health
            : null;
    rows.push([
      name,
      kb(fn.bytes),
      c ? kb(c.naiveBytes) : '',
      c ? fmt(c.deployedImportMs, 0) : '',
      c ? fmt(c.ratioToNaive, 2) : '',
      c ? fmt(c.deployedImportCpuMs, 0) : '',
      c ? fmt(c.ratioToNaiveCpu, 2) : '',
      w ? `${fmt(w.handlerP50)}/${fmt(w.handlerP99)}` : wa ? `${fmt(wa.handlerP50)}/${fmt(wa.handlerP99)}*` : '',
      w ? `${fmt(w.overheadP50)}/${fmt(w.overheadP99)}` : '',
      k ? (k.error ? 'error' : calls(k.coldSummary)) : '',
      k ? (k.error ? 'error' : calls(k.warmMax)) : '',
      load ? `${fmt(load.rps, 0)} (${load.errors})` : '',
    ]);
  }
  return rows;
}

export function renderText(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function renderMarkdown(rows: string[][]): string {
  const [head, ...body] = rows;
  return [
    `| ${head!.join(' | ')} |`,
    `|${head!.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...body.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

export function targetsTable(targets: Target[]): string[][] {
  return [
    ['target', 'measured', 'met', 'note'],
    ...targets.map((t) => [t.target, t.value, t.met === null ? 'n/a' : t.met ? 'MET' : 'MISSED', t.note]),
  ];
}

export function costTable(r: NonNullable<BenchResults['cost']>): string[][] {
  const out: string[][] = [['item (per million charges)', 'measured USD', 'prices.ts defaults USD']];
  for (const l of r.result.lines) {
    const d = r.defaults.find((x) => x.item === l.item);
    out.push([l.item, l.usd.toFixed(2), d ? d.usd.toFixed(2) : '']);
  }
  const sum = (ls: { usd: number }[]) => ls.reduce((s, l) => s + l.usd, 0);
  const defTarget = r.defaults.filter((l) => /^(Lambda|DynamoDB|Secrets Manager|KMS)/.test(l.item));
  out.push(['= Lambda + DynamoDB + Secrets Manager + KMS', r.result.targetUsd.toFixed(2), sum(defTarget).toFixed(2)]);
  out.push([
    '  beside: API Gateway + WAF + logs',
    r.result.besideUsd.toFixed(2),
    (sum(r.defaults) - sum(defTarget)).toFixed(2),
  ]);
  out.push(['= total', r.result.totalUsd.toFixed(2), sum(r.defaults).toFixed(2)]);
  return out;
}
