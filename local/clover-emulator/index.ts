// The Clover sandbox emulator: every Clover host on one port, told apart by path —
// token host `/v1/tokens`; SCL `/v1/charges…`, `/v1/refunds…`, `/pakms/apikey`; platform/OAuth
// `/oauth/v2/*`; the CDN's `/assets/keys.json` and the hosted iframe (`/sdk.js`, `/elements/<FIELD>`,
// see sdk/) — plus the test control surface under `/_emulator`.
// See ../../../shared/clover-api.md §13 for the behaviour and API.md §3.1 for the control surface.

import { createServer, type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { answerBeforeRefusing } from '../client-errors';
import { appControl } from './app-webhooks';
import { apikeyPrincipal, bearerPrincipal, type Principal } from './auth';
import { captureCharge, createCharge, getCharge, listCharges } from './charges';
import { defaultConfig } from './config';
import type { Emu } from './context';
import { ApiError, methodNotAllowed, notFound, type Reply, unauthorized } from './errors';
import { type Fault, Faults } from './faults';
import { type ApiRequest, BodyTooLarge, readBody, send } from './http';
import { merchantRoutes } from './merchants';
import { authorize, exchangeCode, pakmsApiKey, refresh } from './oauth';
import { RateLimiter } from './ratelimit';
import { createRefund, getRefund, listRefunds } from './refunds';
import { RequestLog, redactBody, redactHeaders, redactRawBody } from './requestlog';
import { sdkAsset } from './sdk/assets';
import { Store } from './state';
import { createToken, keysJson } from './tokens';

export interface CloverEmulatorOptions {
  /** 0 = a random free port (the default); the local platform passes 3100. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Persist all state as JSON here (atomic, debounced, and on close); null or absent = memory only. */
  dataFile?: string | null;
  /** Registered apps (OAuth clients); they survive a reset. More via POST /_emulator/apps. */
  apps?: { client_id: string; client_secret: string }[];
  /** Default 3600. */
  accessTokenLifetimeSeconds?: number;
  /** Default 31536000. */
  refreshTokenLifetimeSeconds?: number;
  /** One line per request: method, path, status, ms. Never card data, tokens or keys. */
  log?: (line: string) => void;
  /** Epoch ms, for tests. */
  now?: () => number;
  /**
   * A merchant's own clock, for tests that give each merchant a virtual time (the simulation):
   * what that merchant's charges, refunds, lists and idempotency records see. Undefined (or an
   * undefined answer) falls back to `now`. OAuth and tokens keep `now`.
   */
  clockFor?: (merchantId: string) => number | undefined;
}

export interface CloverEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

const PRUNE_INTERVAL_MS = 60_000;

type Route =
  | { method: string; pattern: RegExp; auth: 'none'; handle: (emu: Emu, req: ApiRequest) => Reply }
  | {
      method: string;
      pattern: RegExp;
      auth: 'bearer' | 'apikey';
      handle: (emu: Emu, req: ApiRequest, principal: Principal, id: string) => Reply;
    };

const ROUTES: Route[] = [
  { method: 'GET', pattern: /^\/assets\/keys\.json$/, auth: 'none', handle: (emu) => keysJson(emu) },
  { method: 'POST', pattern: /^\/v1\/tokens$/, auth: 'apikey', handle: createToken },
  { method: 'GET', pattern: /^\/pakms\/apikey$/, auth: 'bearer', handle: (emu, _req, p) => pakmsApiKey(emu, p) },
  { method: 'POST', pattern: /^\/v1\/charges$/, auth: 'bearer', handle: createCharge },
  { method: 'GET', pattern: /^\/v1\/charges$/, auth: 'bearer', handle: listCharges },
  {
    method: 'GET',
    pattern: /^\/v1\/charges\/([^/]+)$/,
    auth: 'bearer',
    handle: (emu, _req, p, id) => getCharge(emu, p, id),
  },
  { method: 'POST', pattern: /^\/v1\/charges\/([^/]+)\/capture$/, auth: 'bearer', handle: captureCharge },
  { method: 'POST', pattern: /^\/v1\/refunds$/, auth: 'bearer', handle: createRefund },
  { method: 'GET', pattern: /^\/v1\/refunds$/, auth: 'bearer', handle: listRefunds },
  {
    method: 'GET',
    pattern: /^\/v1\/refunds\/([^/]+)$/,
    auth: 'bearer',
    handle: (emu, _req, p, id) => getRefund(emu, p, id),
  },
  { method: 'GET', pattern: /^\/oauth\/v2\/authorize$/, auth: 'none', handle: authorize },
  { method: 'POST', pattern: /^\/oauth\/v2\/token$/, auth: 'none', handle: exchangeCode },
  { method: 'POST', pattern: /^\/oauth\/v2\/refresh$/, auth: 'none', handle: refresh },
  ...merchantRoutes,
];

interface Match {
  route: Route | null;
  id: string;
  /** The path exists but not for this method. */
  wrongMethod: boolean;
}

function match(method: string, path: string): Match {
  let wrongMethod = false;
  for (const route of ROUTES) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    if (route.method !== method) {
      wrongMethod = true;
      continue;
    }
    let id = '';
    try {
      id = decodeURIComponent(m[1] ?? '');
    } catch {
      return { route: null, id: '', wrongMethod: false };
    }
    return { route, id, wrongMethod: false };
  }
  return { route: null, id: '', wrongMethod };
}

function faultReply(fault: Fault, status: number): Reply {
  if (typeof fault.body === 'string') return { status, text: fault.body };
  if (fault.body !== undefined) return { status, body: fault.body };
  return { status, body: { message: `${status} ${STATUS_CODES[status] ?? 'Error'}` } };
}

/** For the request log: the merchant an unauthenticated OAuth request is about, when known. */
function merchantHint(store: Store, req: ApiRequest): string | null {
  const queryMerchant = req.query.get('merchant_id');
  if (queryMerchant && store.merchants.has(queryMerchant)) return queryMerchant;
  const body = typeof req.body === 'object' && req.body !== null ? (req.body as Record<string, unknown>) : {};
  if (typeof body.code === 'string') return store.authCodes.get(body.code)?.merchant_id ?? null;
  if (typeof body.refresh_token === 'string') return store.refreshTokens.get(body.refresh_token)?.merchant_id ?? null;
  return null;
}

/**
 * Carry out a request under an optional fault. Without `after_effect` the fault strikes first
 * (the request may never be carried out); with it, the request takes effect and only the
 * response is delayed, replaced or lost.
 */
async function respond(
  incoming: IncomingMessage,
  res: ServerResponse,
  fault: Fault | null,
  run: () => Reply,
  signal: AbortSignal,
): Promise<void> {
  const strike = async (): Promise<Reply | 'dropped' | null> => {
    if (!fault) return null;
    if (fault.delay_ms > 0) await sleep(fault.delay_ms, undefined, { signal });
    if (fault.drop) {
      incoming.socket.destroy();
      return 'dropped';
    }
    return fault.status === null ? null : faultReply(fault, fault.status);
  };
  if (fault?.after_effect) {
    const reply = run();
    const replaced = await strike();
    if (replaced !== 'dropped') send(res, replaced ?? reply);
    return;
  }
  const replaced = await strike();
  if (replaced === 'dropped') return;
  send(res, replaced ?? run());
}

export async function startCloverEmulator(opts: CloverEmulatorOptions = {}): Promise<CloverEmulator> {
  const now = opts.now ?? Date.now;
  const log = opts.log;
  const store = await Store.open(opts.dataFile ?? null, (err) =>
    log?.(`clover-emulator: could not save state: ${err instanceof Error ? err.message : String(err)}`),
  );
  const optionApps = opts.apps ?? [];
  const registerOptionApps = (): void => {
    for (const app of optionApps) {
      store.apps.set(app.client_id, {
        client_id: app.client_id,
        client_secret: app.client_secret,
        from_options: true,
        created: store.apps.get(app.client_id)?.created ?? now(),
      });
    }
    store.changed();
  };
  registerOptionApps();

  const emu: Emu = { store, config: defaultConfig(opts), merchantSettings: new Map(), now };
  const clockFor = opts.clockFor;
  /** The handlers' view of the emulator for one request: the merchant's clock where there is one. */
  const emuFor = (principal: Principal | null): Emu => {
    if (!principal || !clockFor) return emu;
    const merchantId = principal.merchant_id;
    return {
      get store() {
        return emu.store;
      },
      get config() {
        return emu.config;
      },
      set config(c) {
        emu.config = c;
      },
      merchantSettings: emu.merchantSettings,
      now: () => clockFor(merchantId) ?? now(),
    };
  };
  const faults = new Faults();
  const requests = new RequestLog();
  const limiter = new RateLimiter();
  const shutdown = new AbortController();
  const controlDeps = {
    emu,
    faults,
    requests,
    reset: (): void => {
      store.reset();
      registerOptionApps();
      faults.clear();
      requests.clear();
      limiter.clear();
      emu.config = defaultConfig(opts);
      emu.merchantSettings.clear();
    },
  };

  const dispatch = (req: ApiRequest, found: Match, principal: Principal | null): Reply => {
    try {
      const { route } = found;
      if (!route) throw found.wrongMethod ? methodNotAllowed() : notFound();
      if (route.auth === 'none') return route.handle(emu, req);
      if (!principal) throw unauthorized();
      return route.handle(emuFor(principal), req, principal, found.id);
    } catch (err) {
      if (err instanceof ApiError) return err.toReply();
      log?.(
        `clover-emulator: internal error on ${req.method} ${req.path}: ${err instanceof Error ? err.name : 'error'}`,
      );
      return { status: 500, body: { message: '500 Internal Server Error' } };
    }
  };

  const handle = async (incoming: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const method = (incoming.method ?? 'GET').toUpperCase();
    const url = new URL(incoming.url ?? '/', 'http://emulator.invalid');
    const path = url.pathname;
    res.on('close', () => {
      const status = res.writableFinished ? String(res.statusCode) : 'dropped';
      log?.(`${method} ${path} ${status} ${Math.round(performance.now() - started)}ms`);
    });

    let raw: string;
    try {
      raw = await readBody(incoming);
    } catch (err) {
      const tooLarge = err instanceof BodyTooLarge;
      send(res, {
        status: tooLarge ? 413 : 400,
        body: { message: tooLarge ? '413 Payload Too Large' : '400 Bad Request' },
      });
      return;
    }
    let body: unknown;
    let bodyInvalid = false;
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        bodyInvalid = true;
      }
    }
    const req: ApiRequest = { method, path, query: url.searchParams, headers: incoming.headers, body, bodyInvalid };

    if (path === '/_emulator' || path.startsWith('/_emulator/')) {
      let reply: Reply;
      try {
        reply = appControl(controlDeps, req);
      } catch (err) {
        reply =
          err instanceof ApiError ? err.toReply() : { status: 500, body: { message: '500 Internal Server Error' } };
      }
      send(res, reply);
      return;
    }
    // The hosted iframe's static files: no auth, and outside the request log, faults and rate limits.
    const asset = sdkAsset(method, path);
    if (asset) {
      send(res, asset);
      return;
    }

    const found = match(method, path);
    const auth = found.route?.auth;
    const principal =
      auth === 'bearer' ? bearerPrincipal(store, req, now()) : auth === 'apikey' ? apikeyPrincipal(store, req) : null;
    requests.add({
      method,
      path,
      query: redactBody(Object.fromEntries(url.searchParams)) as Record<string, string>,
      headers: redactHeaders(incoming.headers),
      body: redactRawBody(raw, body, raw.trim() !== '' && !bodyInvalid),
      merchant_id: principal?.merchant_id ?? merchantHint(store, req),
      at: new Date(now()).toISOString(),
    });

    const limits = emu.config.rate_limits;
    if (principal && limits) {
      const admission = limiter.admit(
        limits,
        principal.credential,
        principal.app_id ?? `merchant:${principal.merchant_id}`,
      );
      if (!admission.ok) {
        send(res, admission.reply);
        return;
      }
      res.on('close', admission.release);
    }

    const fault = faults.take(method, path, principal?.merchant_id ?? null);
    try {
      await respond(incoming, res, fault, () => dispatch(req, found, principal), shutdown.signal);
    } catch {
      // Only an aborted sleep lands here: the emulator is closing.
      incoming.socket.destroy();
    }
  };

  const server = createServer((incoming, res) => {
    handle(incoming, res).catch(() => incoming.socket.destroy());
  });
  answerBeforeRefusing(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const pruner = setInterval(() => {
    store.prune(now(), emu.config.idempotency_retention_seconds * 1000);
  }, PRUNE_INTERVAL_MS);
  pruner.unref();

  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () => {
      closing ??= (async () => {
        clearInterval(pruner);
        shutdown.abort();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await store.close();
      })();
      return closing;
    },
  };
}
