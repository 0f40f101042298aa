/**
 * The reconciler (every minute): resolves money operations left unresolved — a charge, capture or
 * refund whose answer was lost, refused ambiguously, or never recorded because its Lambda died.
 *
 * Each run reads the whole pending index (keys only, every shard, every page: a cursor over all
 * of it, so entries it cannot resolve never hide newer ones), emits the oldest pending age and the
 * number of operations needing attention, then works through those that are due, oldest due first,
 * until its time is up. For each: take its lease (conditional, on the operation itself), keep its
 * idempotency key alive, look it up at Clover, send it again only when Clover provably made nothing
 * or cannot make it twice, and record the outcome on evidence — or schedule the next try with
 * backoff, and after NEEDS_ATTENTION_AFTER tries mark it `needs_attention` (alarmed) and keep trying
 * every few hours. Concurrency stays within Clover's per-token limits: at most two operations of
 * one merchant at a time (and every call takes its turn from the shared budget).
 */
import { config } from '../config';
import { hooks } from '../hooks';
import { logger } from '../log';
import { emitMetric, MetricUnit } from '../metrics';
import { isUnresolved, type MoneyRecord } from '../store/ledger';
import { listPending, type PendingEntry } from '../store/pending';
import { captureKind } from './capture';
import { chargeKind } from './charges';
import { drive, type Kind, keepAlive, RECONCILER_LEASE_MS, take } from './operation';
import { refundKind } from './refunds';

export interface ReconcileReport {
  /** Unresolved operations in the index. */
  pending: number;
  /** Of them, due now. */
  due: number;
  examined: number;
  resolved: number;
  still_pending: number;
  skipped_in_flight: number;
  needs_attention: number;
  oldest_pending_age_s: number;
}

export interface ReconcileOptions {
  /** Only this merchant's operations (ops, and the simulation's one-merchant worlds). */
  merchantId?: string;
  /** Stop starting new operations this long after the run began (the Lambda times out at 50 s). */
  budgetMs?: number;
  /** Operations at once, in all. */
  concurrency?: number;
  /** Operations of one merchant at once (Clover: 5 in flight per token; live traffic needs the rest). */
  perMerchant?: number;
  /** Also take every operation pending at least this long, whatever its next try's time (ops, tests). */
  graceMs?: number;
}

export async function reconcilePending(opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const started = hooks.now();
  const owner = `reconciler:${started}:${Math.random().toString(36).slice(2)}`;
  const entries = await listPending(opts.merchantId ? { merchantId: opts.merchantId } : {});
  const isDue = (e: PendingEntry) =>
    e.dueMs <= started || (opts.graceMs !== undefined && e.state === 'P' && e.sinceMs + opts.graceMs <= started);
  const due = entries.filter(isDue).sort((a, b) => a.dueMs - b.dueMs || a.sinceMs - b.sinceMs);
  const report: ReconcileReport = {
    pending: entries.length,
    due: due.length,
    examined: 0,
    resolved: 0,
    still_pending: 0,
    skipped_in_flight: 0,
    needs_attention: entries.filter((e) => e.state === 'A').length,
    oldest_pending_age_s: entries.length
      ? Math.max(0, Math.round((started - Math.min(...entries.map((e) => e.sinceMs))) / 1000))
      : 0,
  };
  emitMetric('OldestPendingChargeAgeSeconds', report.oldest_pending_age_s, MetricUnit.Seconds);
  emitMetric('NeedsAttentionItems', report.needs_attention);

  const deadline = started + (opts.budgetMs ?? 40_000);
  const perMerchant = opts.perMerchant ?? config.reconcilePerMerchant;
  const busy = new Map<string, number>();
  const queue = [...due];
  let wake: (() => void)[] = [];
  const worker = async (): Promise<void> => {
    while (queue.length > 0 && hooks.now() < deadline) {
      const i = queue.findIndex((e) => (busy.get(e.pk) ?? 0) < perMerchant);
      if (i < 0) {
        // Every waiting operation's merchant is at its limit: wait for one to finish.
        await new Promise<void>((resolve) => wake.push(resolve));
        continue;
      }
      const [entry] = queue.splice(i, 1);
      if (!entry) return;
      busy.set(entry.pk, (busy.get(entry.pk) ?? 0) + 1);
      try {
        await reconcileOne(entry, owner, report);
      } finally {
        busy.set(entry.pk, (busy.get(entry.pk) ?? 1) - 1);
        const waiting = wake;
        wake = [];
        for (const w of waiting) w();
      }
    }
    const waiting = wake;
    wake = [];
    for (const w of waiting) w();
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  return report;
}

function kindOf(sk: string): Kind<MoneyRecord> | null {
  if (sk.startsWith('CHARGE#')) return chargeKind as unknown as Kind<MoneyRecord>;
  if (sk.startsWith('CAPTURE#')) return captureKind as unknown as Kind<MoneyRecord>;
  if (sk.startsWith('REFUND#')) return refundKind as unknown as Kind<MoneyRecord>;
  return null;
}

async function reconcileOne(entry: PendingEntry, owner: string, report: ReconcileReport): Promise<void> {
  const kind = kindOf(entry.sk);
  if (!kind) return;
  report.examined++;
  const merchantId = entry.pk.slice('MERCHANT#'.length);
  const id = entry.sk.slice(entry.sk.indexOf('#') + 1);
  try {
    const now = hooks.now();
    const taken = await take<MoneyRecord>(entry, owner, now, RECONCILER_LEASE_MS);
    if (!taken) {
      const r = await kind.load(merchantId, id);
      if (r && isUnresolved(r.status)) report.skipped_in_flight++;
      return;
    }
    await keepAlive(taken.record, now);
    const driven = await drive(kind, taken.record, {
      owner,
      requestId: 'reconciler',
      deadline: now + 10_000,
      first: false,
      settledAt: taken.settledAt,
      attempt: taken.record.attempt,
      reconciler: true,
    });
    if (driven.resolved) report.resolved++;
    else report.still_pending++;
    logger.info('pending operation reconciled', {
      id,
      merchantId,
      resolved: driven.resolved !== null,
      status: driven.response.statusCode,
    });
  } catch (e) {
    report.still_pending++;
    logger.warn('pending operation could not be reconciled yet', { id, merchantId, error: (e as Error)?.name });
  }
}
