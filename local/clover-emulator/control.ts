// The test control surface under /_emulator (API.md §3.1): merchants, apps, the request log,
// faults, reset, run-time config (also per merchant), and a view of the charges and refunds
// actually made.

import { updateConfig, updateMerchantSettings } from './config';
import type { Emu } from './context';
import { ApiError, invalidRequest, notFound, type Reply } from './errors';
import type { Faults } from './faults';
import { type ApiRequest, objectBody } from './http';
import { cloverId, hex, opaqueToken, uuid } from './ids';
import { revokeTokens } from './oauth';
import { newestFirst } from './pagination';
import type { RequestLog } from './requestlog';

export interface ControlDeps {
  emu: Emu;
  faults: Faults;
  requests: RequestLog;
  /** Forget everything (keeping the apps from the options) and restore the default config. */
  reset(): void;
}

const ID = /^[A-Z0-9]{13}$/;

export function control(deps: ControlDeps, req: ApiRequest): Reply {
  const { emu } = deps;
  const route = `${req.method} ${req.path.replace(/\/+$/, '')}`;
  switch (route) {
    case 'POST /_emulator/merchants':
      return createMerchant(emu, req);
    case 'GET /_emulator/merchants':
      return { status: 200, body: [...emu.store.merchants.values()].map(({ merchant_id }) => ({ merchant_id })) };
    case 'POST /_emulator/apps':
      return createApp(emu, req);
    case 'GET /_emulator/requests':
      return { status: 200, body: deps.requests.find(req.query.get('path')) };
    case 'DELETE /_emulator/requests':
      deps.requests.clear();
      return { status: 204 };
    case 'POST /_emulator/faults':
      return { status: 201, body: deps.faults.add(objectBody(req)) };
    case 'GET /_emulator/faults':
      return { status: 200, body: deps.faults.list() };
    case 'DELETE /_emulator/faults':
      deps.faults.clear();
      return { status: 204 };
    case 'POST /_emulator/reset':
      deps.reset();
      return { status: 200, body: { reset: true } };
    case 'GET /_emulator/config':
      return { status: 200, body: emu.config };
    case 'POST /_emulator/config':
      emu.config = updateConfig(emu.config, objectBody(req, true));
      return { status: 200, body: emu.config };
    case 'GET /_emulator/charges':
      return listAllCharges(emu, req.query.get('merchant_id'));
    case 'GET /_emulator/refunds':
      return listAllRefunds(emu, req.query.get('merchant_id'));
    case 'POST /_emulator/revoke':
      return revoke(emu, req);
    default: {
      const m = /^(GET|POST) \/_emulator\/merchants\/([A-Z0-9]{13})\/config$/.exec(route);
      if (!m) throw notFound();
      const merchantId = m[2]!;
      if (!emu.store.merchants.has(merchantId)) throw notFound();
      if (m[1] === 'POST') {
        const next = updateMerchantSettings(emu.merchantSettings.get(merchantId) ?? {}, objectBody(req, true));
        emu.merchantSettings.set(merchantId, next);
      }
      return { status: 200, body: merchantSettingsView(emu, merchantId) };
    }
  }
}

/** What applies to a merchant: its overrides over the emulator-wide config. */
function merchantSettingsView(emu: Emu, merchantId: string): Record<string, unknown> {
  const own = emu.merchantSettings.get(merchantId) ?? {};
  return {
    merchant_id: merchantId,
    idempotency_mode: own.idempotency_mode ?? emu.config.idempotency_mode,
    list_lag_ms: own.list_lag_ms ?? emu.config.list_lag_ms,
    overrides: own,
  };
}

function createMerchant(emu: Emu, req: ApiRequest): Reply {
  const body = objectBody(req, true);
  let merchantId = cloverId();
  if (body.merchant_id !== undefined) {
    if (typeof body.merchant_id !== 'string' || !ID.test(body.merchant_id)) {
      throw invalidRequest('merchant_id must be 13 upper-case letters or digits', 'merchant_id');
    }
    if (emu.store.merchants.has(body.merchant_id)) {
      throw new ApiError(409, {
        message: 'merchant already exists',
        error: { code: 'conflict', message: 'merchant already exists' },
      });
    }
    merchantId = body.merchant_id;
  }
  const merchant = { merchant_id: merchantId, public_key: hex(16), private_key: uuid(), created: emu.now() };
  emu.store.merchants.set(merchantId, merchant);
  emu.store.changed();
  return {
    status: 201,
    body: { merchant_id: merchant.merchant_id, public_key: merchant.public_key, private_key: merchant.private_key },
  };
}

function createApp(emu: Emu, req: ApiRequest): Reply {
  const body = objectBody(req, true);
  for (const field of ['client_id', 'client_secret'] as const) {
    const value = body[field];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0 || value.length > 200)) {
      throw invalidRequest(`${field} must be a non-empty string`, field);
    }
  }
  const clientId = typeof body.client_id === 'string' ? body.client_id : cloverId();
  const clientSecret = typeof body.client_secret === 'string' ? body.client_secret : opaqueToken(24);
  const existing = emu.store.apps.get(clientId);
  emu.store.apps.set(clientId, {
    client_id: clientId,
    client_secret: clientSecret,
    from_options: existing?.from_options ?? false,
    created: existing?.created ?? emu.now(),
  });
  emu.store.changed();
  return { status: 201, body: { client_id: clientId, client_secret: clientSecret } };
}

function listAllCharges(emu: Emu, merchantId: string | null): Reply {
  const records = newestFirst(
    [...emu.store.charges.values()].filter((c) => !merchantId || c.merchant_id === merchantId),
  );
  return { status: 200, body: records.map((r) => ({ ...r.charge, merchant_id: r.merchant_id })) };
}

function listAllRefunds(emu: Emu, merchantId: string | null): Reply {
  const records = newestFirst(
    [...emu.store.refunds.values()].filter((r) => !merchantId || r.merchant_id === merchantId),
  );
  return { status: 200, body: records.map((r) => ({ ...r.refund, merchant_id: r.merchant_id })) };
}

function revoke(emu: Emu, req: ApiRequest): Reply {
  const body = objectBody(req);
  if (typeof body.merchant_id !== 'string') throw invalidRequest('merchant_id is required', 'merchant_id');
  if (body.client_id !== undefined && typeof body.client_id !== 'string') {
    throw invalidRequest('client_id must be a string', 'client_id');
  }
  const revoked = revokeTokens(emu, body.merchant_id, typeof body.client_id === 'string' ? body.client_id : null);
  return { status: 200, body: { revoked } };
}
