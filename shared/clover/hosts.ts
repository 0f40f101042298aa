/** Clover's hosts per environment (clover-api.md §1). The app secret may override them. */
export interface CloverHosts {
  /** Platform REST API and OAuth token/refresh. */
  api: string;
  /** Where a merchant's browser is sent to install (OAuth authorize UI). */
  oauth_authorize: string;
  /** Tokenization service (`/v1/tokens`). */
  token: string;
  /** Ecommerce service: charges, refunds, PAKMS. */
  scl: string;
  /** The hosted iframe script. */
  sdk_url: string;
}

export type CloverEnvironment = 'sandbox' | 'production';

export function cloverHosts(env: CloverEnvironment): CloverHosts {
  return env === 'production'
    ? {
        api: 'https://api.clover.com',
        oauth_authorize: 'https://www.clover.com',
        token: 'https://token.clover.com',
        scl: 'https://scl.clover.com',
        sdk_url: 'https://checkout.clover.com/sdk.js',
      }
    : {
        api: 'https://apisandbox.dev.clover.com',
        oauth_authorize: 'https://sandbox.dev.clover.com',
        token: 'https://token-sandbox.dev.clover.com',
        scl: 'https://scl-sandbox.dev.clover.com',
        sdk_url: 'https://checkout.sandbox.dev.clover.com/sdk.js',
      };
}

/**
 * The deployment's Clover environment and hosts are configuration, set per stage: the stack sets
 * CLOVER_ENVIRONMENT; CLOVER_HOSTS_JSON may override single hosts (the local platform points them
 * at the Clover emulator this way). Not secret, so the tokenize function, which may not read
 * Secrets Manager, knows them too.
 */
export function deploymentEnvironment(env: NodeJS.ProcessEnv = process.env): CloverEnvironment {
  return env.CLOVER_ENVIRONMENT === 'production' ? 'production' : 'sandbox';
}

let cached: { raw: string; hosts: CloverHosts } | undefined;
export function deploymentHosts(env: NodeJS.ProcessEnv = process.env): CloverHosts {
  const raw = `${env.CLOVER_ENVIRONMENT ?? ''}|${env.CLOVER_HOSTS_JSON ?? ''}`;
  if (cached?.raw === raw) return cached.hosts;
  const base = cloverHosts(deploymentEnvironment(env));
  const override = env.CLOVER_HOSTS_JSON ? (JSON.parse(env.CLOVER_HOSTS_JSON) as Partial<CloverHosts>) : {};
  cached = { raw, hosts: { ...base, ...override } };
  return cached.hosts;
}

/** `test` keys belong to a sandbox deployment, `live` keys to production (API.md §1.1). */
export const keyMode = (env: NodeJS.ProcessEnv = process.env): 'test' | 'live' =>
  deploymentEnvironment(env) === 'production' ? 'live' : 'test';
