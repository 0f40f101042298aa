// OAuth v2 (clover-api.md §9.1, §13.4) and PAKMS (§3, §13.3).
// Codes are single-use and live 10 minutes; refresh tokens rotate (a used one is dead) and at most
// REFRESH_TOKEN_CAP stay active per merchant and app, the oldest being revoked first.

import { createHash, timingSafeEqual } from 'node:crypto';
import { appInstalled } from './app-webhooks';
import type { Principal } from './auth';
import type { Emu } from './context';
import { type ApiError, cloverError, type Reply, unauthorized } from './errors';
import { type ApiRequest, header, objectBody } from './http';
import { hex, opaqueToken } from './ids';
import { pakmsKey } from './state';

export const AUTH_CODE_LIFETIME_MS = 10 * 60_000;
export const REFRESH_TOKEN_CAP = 10;

const oauthError = (status: number, code: string, message: string): ApiError => cloverError(status, { code, message });

const invalidClient = (): ApiError => oauthError(401, 'invalid_client', 'Invalid client_id or client_secret');
const invalidGrant = (message: string): ApiError => oauthError(400, 'invalid_grant', message);

function sameSecret(a: string, b: string): boolean {
  const x = createHash('sha256').update(a).digest();
  const y = createHash('sha256').update(b).digest();
  return timingSafeEqual(x, y);
}

/** The browser's Clover login (emulated as a cookie): the merchant whose dashboard is open. */
export const SESSION_COOKIE = 'clover_merchant_id';

function loggedInMerchant(req: ApiRequest): string | null {
  const cookies = header(req, 'cookie') ?? '';
  for (const part of cookies.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=') || null;
  }
  return null;
}

/**
 * GET /oauth/v2/authorize, both ways in (clover-api.md §9.1):
 * - v2: the app sends the browser here with `client_id`, `redirect_uri` and its own `state`; the
 *   code is bound to the merchant logged in to Clover in that browser (the `clover_merchant_id`
 *   cookie), whatever `merchant_id` the URL may name, and the redirect names that merchant.
 * - the older direct redirect after an install from the App Market: no login, `merchant_id` in
 *   the query names the installing merchant.
 * Either way the app counts as installed for that merchant (an app webhook `CREATE`, once).
 */
export function authorize(emu: Emu, req: ApiRequest): Reply {
  const clientId = req.query.get('client_id');
  const redirectUri = req.query.get('redirect_uri');
  const session = loggedInMerchant(req);
  const merchantId = session ?? req.query.get('merchant_id');
  if (!clientId || !emu.store.apps.has(clientId)) throw oauthError(400, 'invalid_client', 'Unknown client_id');
  if (session !== null && !emu.store.merchants.has(session)) throw unauthorized();
  if (!merchantId) throw oauthError(401, 'login_required', 'Log in to Clover first');
  if (!emu.store.merchants.has(merchantId)) {
    throw oauthError(400, 'invalid_request', 'Unknown merchant_id');
  }
  let target: URL;
  try {
    target = new URL(redirectUri ?? '');
  } catch {
    throw oauthError(400, 'invalid_request', 'redirect_uri must be an absolute URL');
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw oauthError(400, 'invalid_request', 'redirect_uri must be an http(s) URL');
  }
  const challenge = req.query.get('code_challenge');
  const method = req.query.get('code_challenge_method');
  if (challenge && method && method !== 'S256') {
    throw oauthError(400, 'invalid_request', 'code_challenge_method must be S256');
  }
  const code = opaqueToken(24);
  emu.store.authCodes.set(code, {
    code,
    client_id: clientId,
    merchant_id: merchantId,
    redirect_uri: target.toString(),
    code_challenge: challenge,
    expires_at: emu.now() + AUTH_CODE_LIFETIME_MS,
    used: false,
  });
  emu.store.changed();
  target.searchParams.set('merchant_id', merchantId);
  target.searchParams.set('client_id', clientId);
  target.searchParams.set('code', code);
  const state = req.query.get('state');
  if (state !== null) target.searchParams.set('state', state);
  appInstalled(emu, clientId, merchantId);
  return { status: 302, headers: { location: target.toString() } };
}

function stringField(body: Record<string, unknown>, field: string): string | null {
  const value = body[field];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** POST /oauth/v2/token: `{client_id, client_secret, code}` (or PKCE `code_verifier`). */
export function exchangeCode(emu: Emu, req: ApiRequest): Reply {
  const body = objectBody(req);
  const clientId = stringField(body, 'client_id');
  const code = stringField(body, 'code');
  if (!clientId) throw oauthError(400, 'invalid_request', 'client_id is required');
  if (!code) throw oauthError(400, 'invalid_request', 'code is required');
  const app = emu.store.apps.get(clientId);
  if (!app) throw invalidClient();
  const record = emu.store.authCodes.get(code);

  const secret = stringField(body, 'client_secret');
  const verifier = stringField(body, 'code_verifier');
  if (secret !== null) {
    if (!sameSecret(secret, app.client_secret)) throw invalidClient();
  } else if (verifier !== null && record?.code_challenge) {
    const computed = createHash('sha256').update(verifier).digest('base64url');
    if (computed !== record.code_challenge) throw invalidGrant('code_verifier does not match the code_challenge');
  } else {
    throw invalidClient();
  }

  if (!record || record.client_id !== clientId) throw invalidGrant('Invalid authorization code');
  if (record.used) throw invalidGrant('Authorization code has already been used');
  if (record.expires_at <= emu.now()) throw invalidGrant('Authorization code has expired');
  record.used = true;
  const withRefresh = req.query.get('no_refresh_token') !== 'true';
  return { status: 200, body: issueTokens(emu, clientId, record.merchant_id, withRefresh) };
}

/** POST /oauth/v2/refresh: `{client_id, refresh_token}` → a new pair; the used token dies. */
export function refresh(emu: Emu, req: ApiRequest): Reply {
  const body = objectBody(req);
  const clientId = stringField(body, 'client_id');
  const token = stringField(body, 'refresh_token');
  if (!clientId) throw oauthError(400, 'invalid_request', 'client_id is required');
  if (!token) throw oauthError(400, 'invalid_request', 'refresh_token is required');
  if (!emu.store.apps.has(clientId)) throw invalidClient();
  const record = emu.store.refreshTokens.get(token);
  if (!record || record.client_id !== clientId || record.status !== 'active' || record.expires_at <= emu.now()) {
    throw invalidGrant('Invalid refresh token');
  }
  if (!emu.store.merchants.has(record.merchant_id)) throw invalidGrant('Invalid refresh token');
  record.status = 'used';
  return { status: 200, body: issueTokens(emu, clientId, record.merchant_id, true) };
}

interface TokenPair {
  access_token: string;
  access_token_expiration: number;
  refresh_token?: string;
  refresh_token_expiration?: number;
}

function issueTokens(emu: Emu, clientId: string, merchantId: string, withRefresh: boolean): TokenPair {
  const { store, config } = emu;
  const now = emu.now();
  const accessToken = opaqueToken();
  const accessExpires = now + config.access_token_lifetime_seconds * 1000;
  store.accessTokens.set(accessToken, {
    token: accessToken,
    client_id: clientId,
    merchant_id: merchantId,
    created: now,
    expires_at: accessExpires,
    revoked: false,
  });
  const pair: TokenPair = { access_token: accessToken, access_token_expiration: Math.floor(accessExpires / 1000) };
  if (withRefresh) {
    const refreshToken = opaqueToken();
    const refreshExpires = now + config.refresh_token_lifetime_seconds * 1000;
    store.refreshTokens.set(refreshToken, {
      token: refreshToken,
      client_id: clientId,
      merchant_id: merchantId,
      created: now,
      expires_at: refreshExpires,
      status: 'active',
    });
    enforceRefreshCap(emu, clientId, merchantId);
    pair.refresh_token = refreshToken;
    pair.refresh_token_expiration = Math.floor(refreshExpires / 1000);
  }
  store.changed();
  return pair;
}

function enforceRefreshCap(emu: Emu, clientId: string, merchantId: string): void {
  const now = emu.now();
  // Map iteration is insertion order, so the first active ones are the oldest.
  const active = [...emu.store.refreshTokens.values()].filter(
    (t) => t.client_id === clientId && t.merchant_id === merchantId && t.status === 'active' && t.expires_at > now,
  );
  for (const token of active.slice(0, Math.max(0, active.length - REFRESH_TOKEN_CAP))) token.status = 'revoked';
}

/** Revoke every OAuth token of a merchant (optionally only one app's), as an uninstall would. */
export function revokeTokens(emu: Emu, merchantId: string, clientId: string | null): number {
  let count = 0;
  for (const t of emu.store.accessTokens.values()) {
    if (t.merchant_id === merchantId && (!clientId || t.client_id === clientId) && !t.revoked) {
      t.revoked = true;
      count += 1;
    }
  }
  for (const t of emu.store.refreshTokens.values()) {
    if (t.merchant_id === merchantId && (!clientId || t.client_id === clientId) && t.status === 'active') {
      t.status = 'revoked';
      count += 1;
    }
  }
  emu.store.changed();
  return count;
}

/** GET /pakms/apikey: one key per merchant and app, created on first request, never expiring. */
export function pakmsApiKey(emu: Emu, principal: Principal): Reply {
  // A dashboard private key belongs to no app; Clover answers 401 for missing permissions too.
  if (principal.kind !== 'oauth' || !principal.app_id) throw unauthorized();
  const key = pakmsKey(principal.merchant_id, principal.app_id);
  let record = emu.store.pakms.get(key);
  if (!record) {
    const now = emu.now();
    record = {
      apiAccessKey: hex(16),
      merchant_id: principal.merchant_id,
      app_id: principal.app_id,
      active: true,
      createdTime: now,
      modifiedTime: now,
    };
    emu.store.pakms.set(key, record);
    emu.store.changed();
  }
  return {
    status: 200,
    body: {
      active: record.active,
      apiAccessKey: record.apiAccessKey,
      createdTime: record.createdTime,
      modifiedTime: record.modifiedTime,
      developerAppUuid: record.app_id,
      merchantUuid: record.merchant_id,
    },
  };
}
