/**
 * How the simulation drives the real code: it installs the seams of shared/hooks.ts.
 *
 * Every invocation (a client request, a reconciler run) runs in an AsyncLocalStorage context of its
 * own, inside its seed's context, so that with many seeds side by side each sees only its own:
 *  - clock: a virtual clock per seed, moved only by the schedule (and by sleeps, which advance it
 *    instead of waiting), so leases, backoff, list lag and settle windows are reproducible;
 *  - step boundaries: a crash planned at a step freezes the invocation there for good (nothing
 *    after it runs, as when a Lambda dies); a pause lets another invocation run to completion first,
 *    which makes the interleaving of concurrent requests reproducible;
 *  - transport: faults planned for the invocation's n-th send (a POST that moves money) or n-th
 *    lookup (a GET at SCL) — dropped before or after Clover acted, 429, 5xx before or after, 401,
 *    a refused connection, a timeout, a slow answer, a 2xx that is not JSON.
 * The DynamoDB client gets a middleware that asks for ReturnConsumedCapacity and adds it to the
 * invocation's write and read units.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { hooks, type Step } from '../../shared/hooks';

export type Fault =
  | 'none'
  | 'drop_before'
  | 'drop_after'
  | 'timeout_after'
  | 'refused'
  | 'r429'
  | 'r500'
  | 'r502'
  | 'r503'
  | 'a500'
  | 'a503'
  | 'r401'
  | 'slow'
  | 'nonjson'
  /** An outage: answered 503 before Clover acted, as `r503`, counted apart. */
  | 'down';

export interface Plan {
  /** Faults of the invocation's 1st, 2nd, … money-moving send. */
  sends: Fault[];
  /** Faults of its 1st, 2nd, … lookup. */
  lookups: Fault[];
  /** Freeze the invocation the `hit`-th time it reaches `step`. */
  crash?: { step: Step; hit: number };
}

export interface SeedContext {
  readonly seed: number;
  clock: number;
  /** Quiescence: no faults, no crashes. */
  quiet: boolean;
  readonly stats: Stats;
}

export interface Stats {
  faults: Record<string, number>;
  crashes: Record<string, number>;
  steps: Record<string, number>;
  /** Calls made by the functions (DynamoDB commands, Clover requests). */
  calls: Record<string, number>;
}

export interface Invocation {
  readonly seed: SeedContext;
  readonly plan: Plan;
  sends: number;
  lookups: number;
  hits: Record<string, number>;
  crashed: boolean;
  onCrash?: () => void;
  pause?: { step: Step; reached: () => void; resume: Promise<void> };
  wru: number;
  rru: number;
}

export const als = new AsyncLocalStorage<Invocation>();
const never = new Promise<never>(() => {});

export function invocation(seed: SeedContext, plan: Plan): Invocation {
  return { seed, plan, sends: 0, lookups: 0, hits: {}, crashed: false, wru: 0, rru: 0 };
}

export type Outcome<T> = { kind: 'done'; value: T } | { kind: 'crashed' };

/** Runs `fn` as invocation `inv`; settles when it returns or when a planned crash froze it. */
export function run<T>(inv: Invocation, fn: () => Promise<T>): Promise<Outcome<T>> {
  const crashed = new Promise<Outcome<T>>((resolve) => {
    inv.onCrash = () => resolve({ kind: 'crashed' });
  });
  const done = als.run(inv, fn).then((value): Outcome<T> => ({ kind: 'done', value }));
  return Promise.race([done, crashed]);
}

const bump = (m: Record<string, number>, k: string) => {
  m[k] = (m[k] ?? 0) + 1;
};

function connectionError(code: string): Error {
  return Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
}

function synthetic(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

const realFetch = globalThis.fetch.bind(globalThis);

/** POST /v1/charges, /v1/charges/{id}/capture, /v1/refunds: a send; GET on SCL lists and charges: a lookup. */
function classify(method: string, path: string): 'send' | 'lookup' | 'other' {
  if (
    method === 'POST' &&
    (path === '/v1/charges' || path === '/v1/refunds' || /^\/v1\/charges\/[^/]+\/capture$/.test(path))
  ) {
    return 'send';
  }
  if (method === 'GET' && (path.startsWith('/v1/charges') || path.startsWith('/v1/refunds'))) return 'lookup';
  return 'other';
}

async function transport(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const inv = als.getStore();
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const kind = classify((init?.method ?? 'GET').toUpperCase(), url.pathname);
  if (inv) bump(inv.seed.stats.calls, `clover ${kind}`);
  if (!inv || kind === 'other') return realFetch(input, init);
  if (inv.crashed) return never;
  const fault = kind === 'send' ? inv.plan.sends[inv.sends++] : inv.plan.lookups[inv.lookups++];
  if (inv.seed.quiet || !fault || fault === 'none') return realFetch(input, init);
  bump(inv.seed.stats.faults, fault);
  const after = async () => {
    const r = await realFetch(input, init);
    await r.text();
  };
  switch (fault) {
    case 'drop_before':
      throw connectionError('ECONNRESET');
    case 'refused':
      throw connectionError('ECONNREFUSED');
    case 'drop_after':
      await after();
      throw connectionError('ECONNRESET');
    case 'timeout_after':
      await after();
      inv.seed.clock += 8000;
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    case 'r429':
      return synthetic(
        429,
        {
          message: 'Too many requests',
          error: { type: 'rate_limit_error', code: 'rate_limit', message: 'Too many requests' },
        },
        { 'retry-after': '1', 'X-RateLimit-tokenLimit': '16' },
      );
    case 'r401':
      return synthetic(401, { message: '401 Unauthorized' });
    case 'r500':
    case 'r502':
    case 'r503':
      return synthetic(Number(fault.slice(1)), { message: `${fault.slice(1)} Server Error` });
    case 'down':
      return synthetic(503, { message: '503 Service Unavailable' });
    case 'a500':
    case 'a503':
      await after();
      return synthetic(Number(fault.slice(1)), { message: `${fault.slice(1)} Server Error` });
    case 'nonjson':
      await after();
      return new Response('<html><body>OK</body></html>', { status: 200, headers: { 'content-type': 'text/html' } });
    case 'slow':
      inv.seed.clock += 3000;
      return realFetch(input, init);
  }
  return realFetch(input, init);
}

/** Installs the simulation's seams (once per process). Outside an invocation everything is real. */
export function installHooks(): void {
  hooks.now = () => {
    const inv = als.getStore();
    return inv ? inv.seed.clock : Date.now();
  };
  hooks.sleep = (ms) => {
    const inv = als.getStore();
    if (!inv) return new Promise((r) => setTimeout(r, ms));
    if (inv.crashed) return never;
    inv.seed.clock += ms;
    return new Promise((r) => setImmediate(r));
  };
  hooks.step = (step) => {
    const inv = als.getStore();
    if (!inv) return;
    if (inv.crashed) return never;
    bump(inv.seed.stats.steps, step);
    inv.hits[step] = (inv.hits[step] ?? 0) + 1;
    const crash = inv.plan.crash;
    if (!inv.seed.quiet && crash && crash.step === step && crash.hit === inv.hits[step]) {
      inv.crashed = true;
      bump(inv.seed.stats.crashes, step);
      inv.onCrash?.();
      return never;
    }
    const pause = inv.pause;
    if (pause && pause.step === step) {
      inv.pause = undefined;
      pause.reached();
      return pause.resume;
    }
  };
  hooks.fetch = transport;
}

/** Adds each command's consumed capacity (DynamoDB's own count, ReturnConsumedCapacity) to the invocation that sent it. */
export function meterDynamo(client: { middlewareStack: { add: (mw: any, opts: any) => void } }): void {
  client.middlewareStack.add(
    (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
      const inv = als.getStore();
      if (inv && args.input && typeof args.input === 'object') args.input.ReturnConsumedCapacity ??= 'TOTAL';
      if (inv) bump(inv.seed.stats.calls, `dynamodb ${context.commandName ?? '?'}`);
      const out = await next(args);
      if (inv) {
        const cc = out?.output?.ConsumedCapacity;
        const list: { CapacityUnits?: number }[] = Array.isArray(cc) ? cc : cc ? [cc] : [];
        const units = list.reduce((s, c) => s + Number(c?.CapacityUnits ?? 0), 0);
        if (/^(Put|Update|Delete|TransactWrite|BatchWrite)/.test(context.commandName ?? '')) inv.wru += units;
        else inv.rru += units;
      }
      return out;
    },
    { step: 'initialize', name: 'simulationConsumedCapacity' },
  );
}
