/**
 * The app's configuration (OAuth client, webhook auth code, Clover environment) lives in one
 * secret, read once per container and cached. None of its secrets are in environment variables.
 * Clover's hosts are stage configuration (shared/clover/hosts.ts); the secret's `environment` must
 * agree with the stage's, so that sandbox credentials are never sent to production or back.
 */
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import * as v from 'valibot';
import { type CloverHosts, deploymentEnvironment, deploymentHosts } from '../clover/hosts';
import { config } from '../config';
import { secretsManager } from './client';

export const AppConfigSchema = v.object({
  client_id: v.pipe(v.string(), v.minLength(1)),
  client_secret: v.pipe(v.string(), v.minLength(1)),
  webhook_auth_code: v.string(),
  environment: v.picklist(['sandbox', 'production']),
  post_install_redirect: v.optional(v.nullable(v.string())),
});

export type AppConfig = v.InferOutput<typeof AppConfigSchema>;
export type ResolvedAppConfig = AppConfig & { hosts: CloverHosts; keyMode: 'test' | 'live' };

const provider = new SecretsProvider({ awsSdkV3Client: secretsManager });
/** The app secret changes only when ops rotate it; five minutes bounds how long a rotation takes to reach every container. */
const APP_CONFIG_MAX_AGE_S = 300;

let lastForcedFetch = 0;

/**
 * The app configuration, cached per container. `refetchAfterS` re-reads the secret now unless this
 * container already re-read it within that many seconds: the webhook function asks for it before
 * it refuses a request, so that an auth code just set or rotated by ops is honoured at once instead
 * of after five minutes of refused notifications Clover never resends — at most one Secrets
 * Manager read per `refetchAfterS`, however many refused requests arrive.
 */
export async function appConfig(opts: { refetchAfterS?: number } = {}): Promise<ResolvedAppConfig> {
  const now = Date.now();
  const forceFetch = opts.refetchAfterS !== undefined && now - lastForcedFetch > opts.refetchAfterS * 1000;
  if (forceFetch) lastForcedFetch = now;
  const raw = await provider.get(config.appSecretId, { maxAge: APP_CONFIG_MAX_AGE_S, forceFetch });
  if (typeof raw !== 'string') throw new Error('app secret is not a string');
  return resolveAppConfig(raw);
}

const resolved = new Map<string, ResolvedAppConfig>();
export function resolveAppConfig(raw: string): ResolvedAppConfig {
  const hit = resolved.get(raw);
  if (hit) return hit;
  const parsed = v.parse(AppConfigSchema, JSON.parse(raw));
  if (parsed.environment !== deploymentEnvironment()) {
    throw new Error(
      `app secret is for Clover ${parsed.environment} but this stage talks to ${deploymentEnvironment()}`,
    );
  }
  const r: ResolvedAppConfig = {
    ...parsed,
    hosts: deploymentHosts(),
    keyMode: parsed.environment === 'production' ? 'live' : 'test',
  };
  resolved.clear();
  resolved.set(raw, r);
  return r;
}
