// Run-time settings, changed through POST /_emulator/config (API.md §3.1). Kept in memory:
// a restart or a reset goes back to the values the options gave.

import { invalidRequest } from './errors';

export interface RateLimits {
  token_rps: number;
  token_concurrent: number;
  app_rps: number;
  app_concurrent: number;
}

export interface RuntimeConfig {
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
