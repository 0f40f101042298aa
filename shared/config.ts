/**
 * Deployment configuration read from the environment. Only names and locations live here; the
 * app's credentials live in the app secret (shared/secrets/app-config.ts), never in variables.
 * Read on access, not at import, so that a process that sets its environment after loading this
 * module (the local platform) sees the values it set.
 */
import { defaultTableName } from './table';

const env = process.env;

export const config = {
  get tableName() {
    return env.TABLE_NAME ?? defaultTableName;
  },
  get appSecretId() {
    return env.APP_SECRET_ID ?? 'clover-payments/app';
  },
  get merchantSecretPrefix() {
    return env.MERCHANT_SECRET_PREFIX ?? 'clover-payments/merchants/';
  },
  /** The REST API and stage whose authorizer cache is flushed when keys stop working. */
  get restApiId() {
    return env.REST_API_ID ?? '';
  },
  get stageName() {
    return env.STAGE_NAME ?? '';
  },
  /** Per Clover call; the Lambda timeout leaves room for a retry after it. */
  get cloverTimeoutMs() {
    return Number(env.CLOVER_TIMEOUT_MS ?? 8000);
  },
  /** The KMS key new merchant secrets are encrypted with (the stack's data key); unset locally. */
  get merchantSecretKmsKeyId() {
    return env.MERCHANT_SECRET_KMS_KEY_ID || undefined;
  },
  /** Browser origins allowed to call the publishable-key routes (comma-separated; empty: none). */
  get corsAllowedOrigins(): string[] {
    return (env.CORS_ALLOWED_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
  },
  /** Our OAuth callback URL, sent to Clover as `redirect_uri` by GET /v1/oauth/launch (set by the stack). */
  get oauthRedirectUrl() {
    return env.OAUTH_REDIRECT_URL ?? '';
  },
  /**
   * Clover calls per second per merchant token that all functions together may make (Clover
   * allows 16, and 5 in flight: shared/clover/budget.ts); 0 turns the shared budget off.
   */
  get cloverRatePerSecond() {
    return Number(env.CLOVER_RATE_PER_SECOND ?? 8);
  },
  /** How long a call may wait for its turn before it is answered 429 instead. */
  get cloverBudgetMaxWaitMs() {
    return Number(env.CLOVER_BUDGET_MAX_WAIT_MS ?? 2000);
  },
  /**
   * How long after the last possible send a lookup at Clover that finds nothing proves that
   * nothing was made: Clover's lists may lag behind its writes (docs/money.md, "List lag").
   */
  get listSettleMs() {
    return Number(env.CLOVER_LIST_SETTLE_MS ?? 60_000);
  },
  /** Operations of one merchant the reconciler works on at once (Clover: 5 in flight per token). */
  get reconcilePerMerchant() {
    return Number(env.CLOVER_RECONCILE_PER_MERCHANT ?? 2);
  },
  /**
   * Card testing (docs/money.md, "Card testing"): declined attempts a checkout session takes before
   * it answers 409 `session_blocked` without calling Clover.
   */
  get sessionMaxDeclines() {
    return Number(env.SESSION_MAX_DECLINES ?? 5);
  },
  /** Declines per publishable key in one velocity window before pays answer 429 (0: no limit). */
  get declineLimitPerKey() {
    return Number(env.DECLINE_LIMIT_PER_KEY ?? 20);
  },
  /** Declines per shopper IP (the connection's) in one velocity window before pays answer 429 (0: no limit). */
  get declineLimitPerIp() {
    return Number(env.DECLINE_LIMIT_PER_IP ?? 10);
  },
  /** The velocity window, in seconds (fixed windows: the counters reset at each multiple of it). */
  get declineWindowS() {
    return Number(env.DECLINE_WINDOW_S ?? 600);
  },
  /** How long a container trusts its cached merchant record and secrets. */
  get cacheTtlMs() {
    return Number(env.CACHE_TTL_MS ?? 60_000);
  },
};
