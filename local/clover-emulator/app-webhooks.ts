// App webhooks as Clover sends them (clover-api.md §10.1, §13.20), and the control routes that
// drive them. An app registers a URL (`POST /_emulator/apps` with `webhook_url`, as a developer
// enters it in the dashboard): the emulator POSTs the verification handshake
// `{"verificationCode": "<uuid>"}` to it, without `X-Clover-Auth` (Clover issues the auth code
// only after verification). From then on every notification carries `X-Clover-Auth: <auth code>`
// and is batched as Clover batches them: `{appId, merchants: {<mId>: [{objectId: "A:<appId>",
// type, ts}]}}`, one POST per app for the events of a short window. An authorize that installs
// the app sends `CREATE`; `POST /_emulator/uninstall` revokes the merchant's tokens and sends
// `DELETE`. Deliveries are fire-and-forget, as Clover's are (no retry); what each POST answered
// is kept for tests at `GET /_emulator/app-webhooks`.
//
// Every /_emulator route is refused to a web page (an `Origin` header, or a browser's
// `Sec-Fetch-Site` other than `none`): 403, no CORS. The control surface can reset state and
// inject faults; a page the developer happens to open must not be able to call it.

import { randomUUID } from 'node:crypto';
import type { Emu } from './context';
import { type ControlDeps, control } from './control';
import { invalidRequest, notFound, type Reply } from './errors';
import { type ApiRequest, header, objectBody } from './http';
import { opaqueToken } from './ids';
import { revokeTokens } from './oauth';
import type { AppWebhookRecord, Store } from './state';

/** Events of one app within this window go out in one POST. */
export const BATCH_WINDOW_MS = 50;
const DELIVERY_TIMEOUT_MS = 5000;
const MAX_DELIVERIES_KEPT = 500;

export interface Delivery {
  client_id: string;
  kind: 'verification' | 'events';
  url: string;
  body: unknown;
  /** Whether the POST carried X-Clover-Auth. */
  authenticated: boolean;
  /** The endpoint's status; null until it answered or when it could not be reached. */
  status: number | null;
  error: string | null;
  at: number;
}

interface AppEvent {
  objectId: string;
  type: 'CREATE' | 'DELETE';
  ts: number;
}

/** What is in flight: kept beside the store (not persisted), dropped on reset. */
class Outbox {
  readonly deliveries: Delivery[] = [];
  readonly pending = new Map<string, Map<string, AppEvent[]>>();
  readonly timers = new Map<string, NodeJS.Timeout>();

  clear(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
    this.deliveries.length = 0;
  }
}
const outboxes = new WeakMap<Store, Outbox>();
function outbox(store: Store): Outbox {
  let o = outboxes.get(store);
  if (!o) {
    o = new Outbox();
    outboxes.set(store, o);
  }
  return o;
}

/** 403 for a request a browser sent on a web page's behalf. */
export function browserRefusal(req: ApiRequest): Reply | null {
  const site = header(req, 'sec-fetch-site');
  if (header(req, 'origin') === undefined && (site === undefined || site === 'none')) return null;
  return {
    status: 403,
    body: { message: '403 Forbidden: the emulator control surface takes no requests from web pages' },
  };
}

/** The /_emulator surface: the routes of this module, then the rest of the control surface. */
export function appControl(deps: ControlDeps, req: ApiRequest): Reply {
  const refused = browserRefusal(req);
  if (refused) return refused;
  const route = `${req.method} ${req.path.replace(/\/+$/, '')}`;
  switch (route) {
    case 'POST /_emulator/apps':
      return registerApp(deps, req);
    case 'POST /_emulator/uninstall':
      return uninstall(deps.emu, req);
    case 'GET /_emulator/app-webhooks': {
      const clientId = req.query.get('client_id');
      const list = outbox(deps.emu.store).deliveries.filter((d) => !clientId || d.client_id === clientId);
      return { status: 200, body: list };
    }
    case 'POST /_emulator/reset': {
      const reply = control(deps, req);
      outbox(deps.emu.store).clear();
      return reply;
    }
    default:
      return control(deps, req);
  }
}

/** `POST /_emulator/apps` `{client_id?, client_secret?, webhook_url?, webhook_auth_code?}`. */
function registerApp(deps: ControlDeps, req: ApiRequest): Reply {
  const body = objectBody(req, true);
  const url = body.webhook_url;
  const code = body.webhook_auth_code;
  if (url !== undefined && url !== null) {
    let parsed: URL | null = null;
    try {
      parsed = typeof url === 'string' ? new URL(url) : null;
    } catch {
      parsed = null;
    }
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      throw invalidRequest('webhook_url must be an absolute http(s) URL', 'webhook_url');
    }
  }
  if (code !== undefined && (typeof code !== 'string' || code.length < 8 || code.length > 200)) {
    throw invalidRequest('webhook_auth_code must be a string of 8 to 200 characters', 'webhook_auth_code');
  }
  const reply = control(deps, req);
  if (reply.status !== 201 || url === undefined) return reply;
  const app = reply.body as { client_id: string };
  const { store } = deps.emu;
  const existing = store.appWebhooks.get(app.client_id);
  const record: AppWebhookRecord = {
    client_id: app.client_id,
    url: typeof url === 'string' ? url : null,
    verification_code: typeof url === 'string' ? randomUUID() : null,
    auth_code: typeof code === 'string' ? code : (existing?.auth_code ?? opaqueToken(16)),
    installed_merchants: existing?.installed_merchants ?? [],
  };
  store.appWebhooks.set(app.client_id, record);
  store.changed();
  if (record.url && record.verification_code) {
    void deliver(deps.emu, record, 'verification', { verificationCode: record.verification_code });
  }
  return {
    status: 201,
    body: {
      ...app,
      webhook_url: record.url,
      webhook_verification_code: record.verification_code,
      webhook_auth_code: record.auth_code,
    },
  };
}

/** Called by authorize: the merchant has installed the app (sent once, until an uninstall). */
export function appInstalled(emu: Emu, clientId: string, merchantId: string): void {
  const record = webhookRecord(emu.store, clientId);
  if (record.installed_merchants.includes(merchantId)) return;
  record.installed_merchants.push(merchantId);
  emu.store.changed();
  queue(emu, record, merchantId, 'CREATE');
}

/** `POST /_emulator/uninstall` `{merchant_id, client_id?}`: every app of the merchant when no client_id. */
function uninstall(emu: Emu, req: ApiRequest): Reply {
  const body = objectBody(req);
  const merchantId = body.merchant_id;
  if (typeof merchantId !== 'string') throw invalidRequest('merchant_id is required', 'merchant_id');
  if (body.client_id !== undefined && typeof body.client_id !== 'string') {
    throw invalidRequest('client_id must be a string', 'client_id');
  }
  if (!emu.store.merchants.has(merchantId)) throw notFound();
  const apps =
    typeof body.client_id === 'string'
      ? [body.client_id]
      : [...emu.store.appWebhooks.values()]
          .filter((w) => w.installed_merchants.includes(merchantId))
          .map((w) => w.client_id);
  let revoked = 0;
  for (const clientId of apps) {
    if (!emu.store.apps.has(clientId)) throw invalidRequest('Unknown client_id', 'client_id');
    revoked += revokeTokens(emu, merchantId, clientId);
    const record = webhookRecord(emu.store, clientId);
    record.installed_merchants = record.installed_merchants.filter((m) => m !== merchantId);
    queue(emu, record, merchantId, 'DELETE');
  }
  emu.store.changed();
  return { status: 200, body: { uninstalled: apps, revoked } };
}

function webhookRecord(store: Store, clientId: string): AppWebhookRecord {
  let record = store.appWebhooks.get(clientId);
  if (!record) {
    record = {
      client_id: clientId,
      url: null,
      verification_code: null,
      auth_code: opaqueToken(16),
      installed_merchants: [],
    };
    store.appWebhooks.set(clientId, record);
  }
  return record;
}

function queue(emu: Emu, record: AppWebhookRecord, merchantId: string, type: AppEvent['type']): void {
  if (!record.url) return;
  const box = outbox(emu.store);
  const byMerchant = box.pending.get(record.client_id) ?? new Map<string, AppEvent[]>();
  box.pending.set(record.client_id, byMerchant);
  byMerchant.set(merchantId, [
    ...(byMerchant.get(merchantId) ?? []),
    { objectId: `A:${record.client_id}`, type, ts: emu.now() },
  ]);
  if (box.timers.has(record.client_id)) return;
  const timer = setTimeout(() => {
    box.timers.delete(record.client_id);
    const events = box.pending.get(record.client_id);
    box.pending.delete(record.client_id);
    const current = emu.store.appWebhooks.get(record.client_id);
    if (!events || !current?.url) return;
    void deliver(emu, current, 'events', { appId: record.client_id, merchants: Object.fromEntries(events) });
  }, BATCH_WINDOW_MS);
  timer.unref();
  box.timers.set(record.client_id, timer);
}

async function deliver(emu: Emu, record: AppWebhookRecord, kind: Delivery['kind'], body: unknown): Promise<void> {
  const url = record.url;
  if (!url) return;
  const authenticated = kind === 'events';
  const delivery: Delivery = {
    client_id: record.client_id,
    kind,
    url,
    body,
    authenticated,
    status: null,
    error: null,
    at: emu.now(),
  };
  const box = outbox(emu.store);
  box.deliveries.push(delivery);
  if (box.deliveries.length > MAX_DELIVERIES_KEPT) box.deliveries.shift();
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Clover-Webhooks (emulator)',
        ...(authenticated ? { 'x-clover-auth': record.auth_code } : {}),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await r.arrayBuffer();
    delivery.status = r.status;
  } catch (e) {
    delivery.error = e instanceof Error ? e.name : 'error';
  }
}
