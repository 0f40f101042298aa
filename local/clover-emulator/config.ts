// Run-time settings, changed through POST /_emulator/config (API.md §3.1). Kept in memory:
// a restart or a reset goes back to the values the options gave.

import { invalidRequest } from './errors';

export interface RateLimits {
  token_rps: number;
  token_concurrent: number;
  app_rps: number;
  app_concurrent: number;
}

/**
 * What a repeated `idempotency-key` does (clover-api.md §7.4: Clover documents none of this, so the
 * emulator can play each possibility): `replay` answers the first definitive answer again (Stripe's
 * rule), `reject` answers 400 `idempotency_error` whatever the body, `ignore` carries the request
 * out as if the key were new (a single-use token then answers `token_already_used`, a refunded
 * charge `charge_already_refunded`).
 */
export type IdempotencyMode = 'replay' | 'reject' | 'ignore';
export const IDEMPOTENCY_MODES: readonly IdempotencyMode[] = ['replay', 'reject', 'ignore'];

/** Settings that may also be set per merchant (POST /_emulator/merchants/{id}/config). */
export interface MerchantSettings {
  idempotency_mode: IdempotencyMode;
  /** A charge or refund shows in the list endpoints only this long (emulator clock) after it was made. */
  list_lag_ms: number;
}

export interface RuntimeConfig extends MerchantSettings {
  access_token_lifetime_seconds: number;
  refresh_token_lifetime_seconds: number;
  /** Reject create-charge without `x-forwarded-for` (Clover requires it since 2023). */
  require_forwarded_for: boolean;
  /** HTTP status of a card decline; Clover's docs say 402 in one place and 400 in another. */
  decline_status: number;
  rate_limits: RateLimits | false;
  idempotency_retention_seconds: number;
}

/** Clover's documented REST limits (clover-api.md §7.3). */
export const CLOVER_RATE_LIMITS: RateLimits = { token_rps: 16, token_concurrent: 5, app_rps: 50, app_concurrent: 10 };

export function defaultConfig(opts: {
  accessTokenLifetimeSeconds?: number;
  refreshTokenLifetimeSeconds?: number;
}): RuntimeConfig {
  return {
    access_token_lifetime_seconds: opts.accessTokenLifetimeSeconds ?? 3600,
    refresh_token_lifetime_seconds: opts.refreshTokenLifetimeSeconds ?? 31_536_000,
    require_forwarded_for: true,
    decline_status: 402,
    rate_limits: { ...CLOVER_RATE_LIMITS },
    idempotency_retention_seconds: 86_400,
    idempotency_mode: 'replay',
    list_lag_ms: 0,
  };
}

function positiveInt(value: unknown, param: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw invalidRequest(`${param} must be a positive integer`, param);
  }
  return value;
}

/** Apply a partial update; throws (and changes nothing) when any field is invalid. */
export function updateConfig(current: RuntimeConfig, patch: unknown): RuntimeConfig {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw invalidRequest('body must be a JSON object');
  }
  const p = patch as Record<string, unknown>;
  const next: RuntimeConfig = { ...current };
  for (const key of Object.keys(p)) {
    const value = p[key];
    switch (key) {
      case 'access_token_lifetime_seconds':
      case 'refresh_token_lifetime_seconds':
      case 'idempotency_retention_seconds':
        next[key] = positiveInt(value, key);
        break;
      case 'require_forwarded_for':
        if (typeof value !== 'boolean') throw invalidRequest(`${key} must be a boolean`, key);
        next.require_forwarded_for = value;
        break;
      case 'decline_status':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 400 || value > 599) {
          throw invalidRequest(`${key} must be an HTTP error status (400-599)`, key);
        }
        next.decline_status = value;
        break;
      case 'rate_limits':
        next.rate_limits = rateLimits(current.rate_limits, value);
        break;
      case 'idempotency_mode':
      case 'list_lag_ms':
        Object.assign(next, merchantSetting(key, value));
        break;
      default:
        throw invalidRequest(`unknown setting ${key}`, key);
    }
  }
  return next;
}

function rateLimits(current: RateLimits | false, value: unknown): RateLimits | false {
  if (value === false) return false;
  if (value === true) return { ...CLOVER_RATE_LIMITS };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidRequest('rate_limits must be an object or false', 'rate_limits');
  }
  const next: RateLimits = { ...(current || CLOVER_RATE_LIMITS) };
  for (const [key, v] of Object.entries(value)) {
    if (!Object.hasOwn(CLOVER_RATE_LIMITS, key))
      throw invalidRequest(`unknown rate limit ${key}`, `rate_limits.${key}`);
    next[key as keyof RateLimits] = positiveInt(v, `rate_limits.${key}`);
  }
  return next;
}

function merchantSetting(key: keyof MerchantSettings, value: unknown): Partial<MerchantSettings> {
  if (key === 'idempotency_mode') {
    if (!IDEMPOTENCY_MODES.includes(value as IdempotencyMode)) {
      throw invalidRequest(`${key} must be one of ${IDEMPOTENCY_MODES.join(', ')}`, key);
    }
    return { idempotency_mode: value as IdempotencyMode };
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 3_600_000) {
    throw invalidRequest(`${key} must be an integer from 0 to 3600000`, key);
  }
  return { list_lag_ms: value };
}

/** A partial per-merchant override; throws (and changes nothing) when any field is invalid. */
export function updateMerchantSettings(current: Partial<MerchantSettings>, patch: unknown): Partial<MerchantSettings> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw invalidRequest('body must be a JSON object');
  }
  const next: Partial<MerchantSettings> = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (key !== 'idempotency_mode' && key !== 'list_lag_ms') throw invalidRequest(`unknown setting ${key}`, key);
    if (value === null) delete next[key];
    else Object.assign(next, merchantSetting(key, value));
  }
  return next;
}
