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
  /** How long a container trusts its cached merchant record and secrets. */
  get cacheTtlMs() {
    return Number(env.CACHE_TTL_MS ?? 60_000);
  },
};
