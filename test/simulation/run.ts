/**
 * One seed: its schedule played against the real handlers (functions/*, called with API Gateway
 * REST proxy events as the gateway builds them, the authorizer's context in
 * `requestContext.authorizer`), the real stores (DynamoDB Local) and the Clover emulator over HTTP;
 * then quiescence (faults off, the reconciler run until nothing is pending, every claimed key asked
 * once more) and the invariants (./invariants.ts).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { proxyEvent } from '../../local/gateway';
import { type Answer, check } from './invariants';
import { type Invocation, installHooks, invocation, type Plan, run, type SeedContext, type Stats } from './runtime';
import { describe, generate, type Op, type Schedule } from './schedule';
import { cardToken, type Handler, newMerchant, type SimMerchant, TABLE, type World } from './world';

const CARDS = { approve: '4242424242424242', decline: '4005571702222222' } as const;
const QUIET: Plan = { sends: [], lookups: [] };
const UNRESOLVED = new Set(['pending', 'needs_attention']);
/** Quiescence: jumps of 7 h (past every backoff, settle window and needs-attention retry), at most this many. */
const QUIESCENCE_ROUNDS = 12;

export interface SeedResult {
  seed: number;
  schedule: Schedule;
  violations: string[];
  requests: number;
  ops: Record<string, number>;
  stats: Stats;
  statuses: Record<string, number>;
  /** Write units of each successful direct charge that met no fault, crash or retry. */
  cleanChargeWru: number[];
  reconcilerRuns: number;
  quiescenceRounds: number;
  ms: number;
}

interface Req {
  readonly n: number;
  readonly what: 'charge' | 'pay' | 'capture' | 'refund';
  readonly handler: Handler;
  readonly method: 'POST';
  readonly path: string;
  readonly resource: string;
  readonly params: Record<string, string> | null;
  readonly body: Record<string, unknown>;
  readonly key: string;
  readonly publishable: boolean;
  /** The op whose charge this request makes (charges and pays). */
  readonly chargeOf?: number;
  readonly card?: 'approve' | 'decline';
}

let installed = false;

export async function runSeed(w: World, seed: number, opts: { base: number }): Promise<SeedResult> {
  if (!installed) {
    installHooks();
    installed = true;
  }
  const started = performance.now();
  const schedule = generate(seed);
  const stats: Stats = { faults: {}, crashes: {}, steps: {}, calls: {} };
  const ctx: SeedContext = { seed, clock: opts.base, quiet: false, stats };
  const m = await newMerchant(w, { idempotency_mode: schedule.mode, list_lag_ms: schedule.lagMs }, () => ctx.clock);
  const world = new SeedWorld(w, m, ctx, schedule);
  for (const op of schedule.ops) await world.play(op);
  const quiescenceRounds = await world.quiesce();
  const observed = await world.observe();
  const violations = check(observed);
  return {
    seed,
    schedule,
    violations,
    requests: world.requests,
    ops: world.opCounts,
    stats,
    statuses: world.statuses,
    cleanChargeWru: world.cleanChargeWru,
    reconcilerRuns: world.reconcilerRuns,
    quiescenceRounds,
    ms: performance.now() - started,
  };
}

/**
 * Write units of `n` successful charges with nothing in the way (no fault, crash or retry), each
 * through the charges handler for a fresh merchant, as DynamoDB counts them (ReturnConsumedCapacity).
 */
export async function measureChargeWru(w: World, n: number, base: number): Promise<number[]> {
  const ctx: SeedContext = {
    seed: 0,
    clock: base,
    quiet: true,
    stats: { faults: {}, crashes: {}, steps: {}, calls: {} },
  };
  const m = await newMerchant(w, { idempotency_mode: 'replay', list_lag_ms: 0 }, () => ctx.clock);
  const world = new SeedWorld(w, m, ctx, { seed: 0, mode: 'replay', lagMs: 0, ops: [] });
  for (let i = 1; i <= n; i++) {
    await world.play({
      t: 'charge',
      n: i,
      amount: 1000 + i,
      currency: 'usd',
      capture: i % 2 === 0,
      card: 'approve',
      plan: QUIET,
    });
    ctx.clock += 1000;
  }
  return world.cleanChargeWru;
}

class SeedWorld {
  readonly answers = new Map<string, Answer[]>();
  readonly reqs = new Map<number, Req>();
  readonly chargeIds = new Map<number, string>();
  readonly sessions = new Map<number, { id: string; secret: string }>();
  readonly opCounts: Record<string, number> = {};
  readonly statuses: Record<string, number> = {};
  readonly cleanChargeWru: number[] = [];
  requests = 0;
  reconcilerRuns = 0;
  private counter = 0;

  constructor(
    private readonly w: World,
    private readonly m: SimMerchant,
    private readonly ctx: SeedContext,
    private readonly schedule: Schedule,
  ) {}

  async play(op: Op): Promise<void> {
    this.opCounts[op.t] = (this.opCounts[op.t] ?? 0) + 1;
    switch (op.t) {
      case 'advance':
        this.ctx.clock += op.ms;
        return;
      case 'reconcile':
        await this.reconcile(op.plan);
        return;
      case 'outage': {
        const down: Plan = { sends: Array(40).fill('down'), lookups: Array(40).fill('down') };
        for (let i = 0; i < op.runs; i++) {
          this.ctx.clock += 3600_000;
          await this.reconcile(down);
        }
        const attention = (await this.items('')).filter((x) => x.status === 'needs_attention').length;
        this.ctx.stats.calls['operations moved to needs_attention'] =
          (this.ctx.stats.calls['operations moved to needs_attention'] ?? 0) + attention;
        return;
      }
      case 'session':
        await this.createSession(op);
        return;
      case 'together': {
        const a = await this.prepare(op.a);
        const b = await this.prepare(op.b);
        if (!a || !b) {
          if (a) await this.send(a.req, a.plan);
          if (b) await this.send(b.req, b.plan);
          return;
        }
        let reached!: () => void;
        let resume!: () => void;
        const paused = new Promise<void>((r) => {
          reached = r;
        });
        const resumed = new Promise<void>((r) => {
          resume = r;
        });
        const first = this.send(a.req, a.plan, { step: op.pauseAt, reached, resume: resumed });
        await Promise.race([paused, first]);
        await this.send(b.req, b.plan);
        resume();
        await first;
        return;
      }
      default: {
        const p = await this.prepare(op);
        if (p) await this.send(p.req, p.plan);
      }
    }
  }

  /** The request an op makes (a new card token where it needs one); null when the client cannot make it. */
  private async prepare(op: Op): Promise<{ req: Req; plan: Plan } | null> {
    const key = `sim-${this.schedule.seed}-${'n' in op ? op.n : 0}`;
    switch (op.t) {
      case 'charge': {
        const source = await cardToken(this.w, this.m, CARDS[op.card]);
        const req: Req = {
          n: op.n,
          what: 'charge',
          handler: this.w.handlers.charges,
          method: 'POST',
          path: '/v1/charges',
          resource: '/v1/charges',
          params: null,
          body: { source, amount: op.amount, currency: op.currency, capture: op.capture },
          key,
          publishable: false,
          chargeOf: op.n,
          card: op.card,
        };
        this.reqs.set(op.n, req);
        return { req, plan: op.plan };
      }
      case 'pay': {
        const s = this.sessions.get(op.session);
        if (!s) return null;
        const source = await cardToken(this.w, this.m, CARDS[op.card]);
        const req: Req = {
          n: op.n,
          what: 'pay',
          handler: this.w.handlers.sessions,
          method: 'POST',
          path: `/v1/checkout-sessions/${s.id}/pay`,
          resource: '/v1/checkout-sessions/{id}/pay',
          params: { id: s.id },
          body: { client_secret: s.secret, source },
          key,
          publishable: true,
          chargeOf: op.n,
          card: op.card,
        };
        this.reqs.set(op.n, req);
        return { req, plan: op.plan };
      }
      case 'capture':
      case 'refund': {
        const charge = this.chargeIds.get(op.charge);
        if (!charge) return null;
        const req: Req =
          op.t === 'capture'
            ? {
                n: op.n,
                what: 'capture',
                handler: this.w.handlers.charges,
                method: 'POST',
                path: `/v1/charges/${charge}/capture`,
                resource: '/v1/charges/{id}/capture',
                params: { id: charge },
                body: op.amount === null ? {} : { amount: op.amount },
                key,
                publishable: false,
              }
            : {
                n: op.n,
                what: 'refund',
                handler: this.w.handlers.refunds,
                method: 'POST',
                path: '/v1/refunds',
                resource: '/v1/refunds',
                params: null,
                body: op.amount === null ? { charge } : { charge, amount: op.amount },
                key,
                publishable: false,
              };
        this.reqs.set(op.n, req);
        return { req, plan: op.plan };
      }
      case 'retry': {
        const req = this.reqs.get(op.of);
        return req ? { req, plan: op.plan } : null;
      }
      case 'newkey': {
        const base = this.reqs.get(op.of);
        if (!base) return null;
        // A shopper trying again pays with a new card token; anything else is sent as it was.
        const body =
          base.what === 'pay'
            ? { ...base.body, source: await cardToken(this.w, this.m, CARDS[base.card ?? 'approve']) }
            : base.body;
        const req: Req = { ...base, n: op.n, key, body, ...(base.chargeOf !== undefined ? { chargeOf: op.n } : {}) };
        this.reqs.set(op.n, req);
        return { req, plan: op.plan };
      }
      default:
        return null;
    }
  }

  private event(req: {
    method: string;
    path: string;
    resource: string;
    params: Record<string, string> | null;
    body: unknown;
    key?: string;
    publishable: boolean;
  }) {
    const requestId = `sim-${this.schedule.seed}-r${++this.counter}`;
    const headers = ['Content-Type', 'application/json', ...(req.key ? ['Idempotency-Key', req.key] : [])];
    const event = proxyEvent({
      method: req.method,
      url: new URL(`https://api.sim.invalid${req.path}`),
      rawHeaders: headers,
      body: Buffer.from(JSON.stringify(req.body)),
      sourceIp: '203.0.113.7',
      resource: req.resource,
      pathParameters: req.params,
      requestId,
    });
    (event.requestContext as { authorizer: unknown }).authorizer = {
      merchant_id: this.m.merchantId,
      key_kind: req.publishable ? 'publishable' : 'secret',
      key_id: 'sim',
    };
    return event;
  }

  private async createSession(op: Extract<Op, { t: 'session' }>): Promise<void> {
    const inv = invocation(this.ctx, QUIET);
    const out = await run(inv, () =>
      this.w.handlers.sessions(
        this.event({
          method: 'POST',
          path: '/v1/checkout-sessions',
          resource: '/v1/checkout-sessions',
          params: null,
          body: { amount: op.amount, currency: op.currency, capture: op.capture },
          publishable: false,
        }),
      ),
    );
    if (out.kind !== 'done' || out.value.statusCode !== 201) throw new Error(`session create: ${JSON.stringify(out)}`);
    const s = JSON.parse(out.value.body) as { id: string; client_secret: string };
    this.sessions.set(op.n, { id: s.id, secret: s.client_secret });
  }

  async send(req: Req, plan: Plan, pause?: NonNullable<Invocation['pause']>): Promise<void> {
    const inv = invocation(this.ctx, plan);
    if (pause) inv.pause = pause;
    this.requests++;
    const out = await run(inv, () => req.handler(this.event(req)));
    const answer: Answer =
      out.kind === 'crashed'
        ? { status: 502, body: '{"message":"Internal server error"}', replayed: false, crashed: true }
        : {
            status: out.value.statusCode,
            body: out.value.body,
            replayed: out.value.headers?.['Idempotent-Replayed'] === 'true',
            crashed: false,
          };
    this.answers.set(req.key, [...(this.answers.get(req.key) ?? []), answer]);
    const label = answer.crashed ? 'crash' : String(answer.status);
    this.statuses[label] = (this.statuses[label] ?? 0) + 1;
    if (req.chargeOf !== undefined && !answer.crashed) {
      const body = JSON.parse(answer.body) as { id?: string; error?: { charge?: string } };
      const id = typeof body.id === 'string' && body.id.startsWith('ch_') ? body.id : body.error?.charge;
      if (id) this.chargeIds.set(req.chargeOf, id);
    }
    const clean = plan.sends.every((f) => f === 'none') && plan.lookups.every((f) => f === 'none') && !plan.crash;
    if (
      req.what === 'charge' &&
      clean &&
      !pause &&
      answer.status === 201 &&
      !answer.replayed &&
      this.answers.get(req.key)!.length === 1
    ) {
      this.cleanChargeWru.push(inv.wru);
    }
  }

  private async reconcile(plan: Plan): Promise<void> {
    this.reconcilerRuns++;
    await run(invocation(this.ctx, plan), () => this.w.reconcile({ merchant_id: this.m.merchantId }));
  }

  /**
   * Faults off; the reconciler until nothing is pending; then every claimed key once more (a
   * resolved operation must be replayed as first answered; one never recorded starts now), and the
   * reconciler again if that left anything pending. Whether anything is pending is read from the
   * merchant's own items (one query), so a seed with nothing left costs no reconciler run.
   */
  async quiesce(): Promise<number> {
    this.ctx.quiet = true;
    let rounds = await this.settle(0);
    const keys = (await this.items('IDEM#')).map((k) => String(k.sk));
    for (const sk of keys) {
      const req = [...this.reqs.values()].find((r) => `IDEM#*#${r.key}` === sk);
      if (req) await this.send(req, QUIET);
    }
    rounds = await this.settle(rounds);
    return rounds;
  }

  private async settle(from: number): Promise<number> {
    let rounds = from;
    for (; rounds < QUIESCENCE_ROUNDS; rounds++) {
      const unresolved = (await this.items('')).filter(
        (i) => typeof i.pending_shard === 'string' || (typeof i.status === 'string' && UNRESOLVED.has(i.status)),
      );
      if (unresolved.length === 0) break;
      this.ctx.clock += 7 * 3600_000;
      await this.reconcile(QUIET);
    }
    return rounds;
  }

  async items(prefix: string): Promise<Record<string, any>[]> {
    const out: Record<string, any>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const r = await this.w.ddb.send(
        new QueryCommand({
          TableName: TABLE,
          KeyConditionExpression: prefix ? 'pk = :p AND begins_with(sk, :s)' : 'pk = :p',
          ExpressionAttributeValues: { ':p': `MERCHANT#${this.m.merchantId}`, ...(prefix ? { ':s': prefix } : {}) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(r.Items ?? []));
      start = r.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async observe() {
    const get = async (path: string) =>
      (await (await fetch(`${this.w.emulatorUrl}${path}?merchant_id=${this.m.merchantId}`)).json()) as Record<
        string,
        any
      >[];
    return {
      ledger: await this.items(''),
      cloverCharges: await get('/_emulator/charges'),
      cloverRefunds: await get('/_emulator/refunds'),
      answers: this.answers,
      logs: '',
    };
  }
}

export { describe };
