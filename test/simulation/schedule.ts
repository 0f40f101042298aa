/**
 * Schedules: what happens to one merchant in one seed, generated from the seed alone (mulberry32),
 * so `SEED=n` regenerates it exactly. Small on purpose — a handful of client operations, their
 * retries, crashes and Clover faults, reconciler runs and clock jumps — so that thousands run in
 * minutes; the variety comes from the number of seeds.
 */
import type { Step } from '../../shared/hooks';
import type { Fault, Plan } from './runtime';

export type Mode = 'replay' | 'reject' | 'ignore';
export type Card = 'approve' | 'decline';

export type Op =
  | { t: 'charge'; n: number; amount: number; currency: 'usd' | 'cad'; capture: boolean; card: Card; plan: Plan }
  | { t: 'session'; n: number; amount: number; currency: 'usd' | 'cad'; capture: boolean }
  | { t: 'pay'; n: number; session: number; card: Card; plan: Plan }
  | { t: 'capture'; n: number; charge: number; amount: number | null; plan: Plan }
  | { t: 'refund'; n: number; charge: number; amount: number | null; plan: Plan }
  /** The same request again, same Idempotency-Key (a client retry). */
  | { t: 'retry'; n: number; of: number; plan: Plan }
  /** The same request under a new key (a charge: the same token; a pay: a new card). */
  | { t: 'newkey'; n: number; of: number; plan: Plan }
  /** `a` runs until it reaches `pauseAt`, then `b` runs to its end, then `a` goes on. */
  | { t: 'together'; a: Op; b: Op; pauseAt: Step }
  | { t: 'reconcile'; plan: Plan }
  /** Clover down for hours: `runs` reconciler runs an hour apart, every send and lookup answered 503. */
  | { t: 'outage'; runs: number }
  | { t: 'advance'; ms: number };

export interface Schedule {
  seed: number;
  mode: Mode;
  lagMs: number;
  ops: Op[];
}

export function rng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STEPS: Step[] = ['key_claimed', 'recorded', 'clover_answered', 'resolved'];
const FAULTS: Fault[] = [
  'drop_before',
  'drop_after',
  'drop_after',
  'timeout_after',
  'refused',
  'r429',
  'r429',
  'r500',
  'r502',
  'r503',
  'a500',
  'a503',
  'r401',
  'slow',
  'nonjson',
];
const LOOKUP_FAULTS: Fault[] = ['r500', 'r503', 'r429', 'drop_before', 'timeout_after'];

export function generate(seed: number): Schedule {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number) => r() < p;
  const between = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

  /** Faults for an invocation's sends and lookups, and maybe a crash; reconciler runs get fewer. */
  const plan = (who: 'client' | 'reconciler' = 'client'): Plan => {
    const p = who === 'client' ? [0.4, 0.3, 0.3] : [0.15, 0.15, 0.15];
    const sends: Fault[] = p.map((x) => (chance(x) ? pick(FAULTS) : 'none'));
    const lookups: Fault[] = [0, 1].map(() => (chance(0.12) ? pick(LOOKUP_FAULTS) : 'none'));
    return {
      sends,
      lookups,
      ...(chance(who === 'client' ? 0.22 : 0.1) ? { crash: { step: pick(STEPS), hit: 1 } } : {}),
    };
  };

  const ops: Op[] = [];
  let n = 0;
  const charges: { n: number; amount: number; capture: boolean }[] = [];
  const sessions: { n: number; amount: number; capture: boolean }[] = [];
  const keyed: number[] = [];
  const keyedOp = <O extends Op>(op: O): O => {
    if ('n' in op && op.t !== 'session') keyed.push(op.n);
    return op;
  };
  const newCharge = (): Op => {
    const capture = chance(0.55);
    const o = {
      t: 'charge' as const,
      n: ++n,
      amount: between(100, 9000),
      currency: chance(0.8) ? ('usd' as const) : ('cad' as const),
      capture,
      card: (chance(0.8) ? 'approve' : 'decline') as Card,
      plan: plan(),
    };
    charges.push({ n: o.n, amount: o.amount, capture });
    return keyedOp(o);
  };
  const newSession = (): Op => {
    const o = {
      t: 'session' as const,
      n: ++n,
      amount: between(100, 9000),
      currency: 'usd' as const,
      capture: chance(0.6),
    };
    sessions.push(o);
    return o;
  };
  const newPay = (s: { n: number; amount: number; capture: boolean }): Op => {
    const o = {
      t: 'pay' as const,
      n: ++n,
      session: s.n,
      card: (chance(0.65) ? 'approve' : 'decline') as Card,
      plan: plan(),
    };
    charges.push({ n: o.n, amount: s.amount, capture: s.capture });
    return keyedOp(o);
  };
  const newCapture = (c: { n: number; amount: number }): Op =>
    keyedOp({ t: 'capture', n: ++n, charge: c.n, amount: chance(0.5) ? null : between(1, c.amount), plan: plan() });
  const newRefund = (c: { n: number; amount: number; capture: boolean }): Op =>
    keyedOp({
      t: 'refund',
      n: ++n,
      charge: c.n,
      amount: !c.capture || chance(0.45) ? null : between(1, Math.max(1, Math.floor(c.amount / 2))),
      plan: plan(),
    });

  const count = between(3, 6);
  for (let i = 0; i < count; i++) {
    const w = r();
    if (charges.length === 0 || w < 0.18) {
      if (chance(0.6)) ops.push(newCharge());
      else {
        ops.push(newSession());
        ops.push(newPay(sessions[sessions.length - 1]!));
      }
    } else if (w < 0.3 && sessions.length > 0) {
      ops.push(newPay(pick(sessions)));
    } else if (w < 0.42) {
      ops.push(newCapture(pick(charges)));
    } else if (w < 0.56) {
      ops.push(newRefund(pick(charges)));
    } else if (w < 0.7 && keyed.length > 0) {
      ops.push({ t: 'retry', n: ++n, of: pick(keyed), plan: plan('client') });
    } else if (w < 0.76 && keyed.length > 0) {
      const of = pick(keyed);
      ops.push(keyedOp({ t: 'newkey', n: ++n, of, plan: plan() }));
    } else if (w < 0.86) {
      const c = pick(charges);
      const s = sessions.length > 0 ? pick(sessions) : null;
      const pairs: (() => [Op, Op])[] = [
        () => [newCapture(c), newRefund(c)],
        () => [newRefund(c), newRefund(c)],
        () => [newCapture(c), newCapture(c)],
        ...(s ? [() => [newPay(s), newPay(s)] as [Op, Op]] : []),
        ...(keyed.length > 0
          ? [
              () => {
                const of = pick(keyed);
                return [
                  { t: 'retry', n: ++n, of, plan: plan('client') },
                  { t: 'retry', n: ++n, of, plan: plan('client') },
                ] as [Op, Op];
              },
            ]
          : []),
      ];
      const [a, b] = pick(pairs)();
      ops.push({ t: 'together', a, b, pauseAt: pick(STEPS) });
    } else if (w < 0.93) {
      ops.push({ t: 'reconcile', plan: plan('reconciler') });
    } else {
      ops.push({ t: 'advance', ms: pick([1000, 20_000, 45_000, 120_000, 1_800_000]) });
    }
    // A client that got no definitive answer retries with the same key, often at once.
    const last = ops[ops.length - 1];
    if (last && 'plan' in last && 'n' in last && last.t !== 'retry' && chance(0.3)) {
      if (chance(0.4)) ops.push({ t: 'advance', ms: pick([1000, 31_000]) });
      ops.push({ t: 'retry', n: ++n, of: last.n, plan: plan() });
    }
    if (chance(0.25)) ops.push({ t: 'advance', ms: pick([500, 5000, 31_000, 61_000, 600_000]) });
    if (chance(0.15)) ops.push({ t: 'reconcile', plan: plan('reconciler') });
  }
  // Now and then a long outage, long enough for what is pending to need attention.
  if (chance(0.06)) ops.splice(between(1, ops.length), 0, { t: 'outage', runs: 9 });
  return { seed, mode: pick(['replay', 'reject', 'ignore'] as const), lagMs: pick([0, 0, 1500, 20_000]), ops };
}

/** One line per operation, for a failing seed's report. */
export function describe(s: Schedule): string {
  const plan = (p: Plan) => {
    const sends = p.sends.filter((f) => f !== 'none').length ? ` sends=[${p.sends.join(',')}]` : '';
    const lookups = p.lookups.filter((f) => f !== 'none').length ? ` lookups=[${p.lookups.join(',')}]` : '';
    return `${sends}${lookups}${p.crash ? ` crash@${p.crash.step}#${p.crash.hit}` : ''}`;
  };
  const one = (o: Op): string => {
    switch (o.t) {
      case 'charge':
        return `#${o.n} charge ${o.amount} ${o.currency} ${o.capture ? 'capture' : 'auth-only'} ${o.card}${plan(o.plan)}`;
      case 'session':
        return `#${o.n} session ${o.amount} ${o.capture ? 'capture' : 'auth-only'}`;
      case 'pay':
        return `#${o.n} pay session#${o.session} ${o.card}${plan(o.plan)}`;
      case 'capture':
        return `#${o.n} capture charge#${o.charge} ${o.amount ?? 'full'}${plan(o.plan)}`;
      case 'refund':
        return `#${o.n} refund charge#${o.charge} ${o.amount ?? 'whole'}${plan(o.plan)}`;
      case 'retry':
        return `#${o.n} retry #${o.of} (same key)${plan(o.plan)}`;
      case 'newkey':
        return `#${o.n} again #${o.of} (new key)${plan(o.plan)}`;
      case 'together':
        return `together [${one(o.a)}] paused at ${o.pauseAt} while [${one(o.b)}]`;
      case 'reconcile':
        return `reconcile${plan(o.plan)}`;
      case 'outage':
        return `outage: ${o.runs} reconciler runs an hour apart, Clover answering 503`;
      case 'advance':
        return `advance ${o.ms} ms`;
    }
  };
  return [`seed ${s.seed}: idempotency_mode=${s.mode} list_lag_ms=${s.lagMs}`, ...s.ops.map((o) => `  ${one(o)}`)].join(
    '\n',
  );
}
