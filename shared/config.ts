/**
 * Deployment configuration read from the environment. Only names and locations live here; the
 * app's credentials live in the app secret (shared/secrets/app-config.ts), never in variables.
 */
export const config = {
  tableName: process.env.TABLE_NAME ?? 'clover-payments',
  appSecretId: process.env.APP_SECRET_ID ?? 'clover-payments/app',
  merchantSecretPrefix: process.env.MERCHANT_SECRET_PREFIX ?? 'clover-payments/merchants/',
  /** The REST API and stage whose authorizer cache is flushed when keys stop working. */
  restApiId: process.env.REST_API_ID ?? '',
  stageName: process.env.STAGE_NAME ?? '',
  /** Per Clover call; the Lambda timeout leaves room for a retry after it. */
  cloverTimeoutMs: Number(process.env.CLOVER_TIMEOUT_MS ?? 8000),
  /** How long a container trusts its cached merchant record and secrets. */
  cacheTtlMs: Number(process.env.CACHE_TTL_MS ?? 60_000),
} as const;
