/** Clover's OAuth v2 token endpoints (clover-api.md §9): code exchange and refresh. */
import * as v from 'valibot';
import type { ResolvedAppConfig } from '../secrets/app-config';
import type { CloverHttp, CloverResult } from './client';

export const TokenPairSchema = v.object({
  access_token: v.pipe(v.string(), v.minLength(1)),
  access_token_expiration: v.number(),
  refresh_token: v.optional(v.string()),
  refresh_token_expiration: v.optional(v.number()),
  /** Ours, not Clover's: when we received the pair (epoch s), to know the token's lifetime. */
  obtained_at: v.optional(v.number()),
});
export type TokenPair = v.InferOutput<typeof TokenPairSchema>;

export type TokenCallResult =
  | { kind: 'ok'; pair: TokenPair }
  | { kind: 'rejected'; status: number }
  | { kind: 'failed' };

function toPair(r: CloverResult<unknown>): TokenCallResult {
  if (r.kind === 'ok') {
    const parsed = v.safeParse(TokenPairSchema, r.body);
    return parsed.success ? { kind: 'ok', pair: parsed.output } : { kind: 'failed' };
  }
  // Clover answers a bad code or a used refresh token with a 4xx; a 429 or 5xx is worth a retry later.
  if (r.kind === 'clover_error' && r.status >= 400 && r.status < 500 && r.status !== 429) {
    return { kind: 'rejected', status: r.status };
  }
  return { kind: 'failed' };
}

export async function exchangeCode(http: CloverHttp, app: ResolvedAppConfig, code: string): Promise<TokenCallResult> {
  return toPair(
    await http.send({
      method: 'POST',
      url: `${app.hosts.api}/oauth/v2/token`,
      body: { client_id: app.client_id, client_secret: app.client_secret, code },
    }),
  );
}

export async function refreshTokens(
  http: CloverHttp,
  app: ResolvedAppConfig,
  refreshToken: string,
): Promise<TokenCallResult> {
  return toPair(
    await http.send({
      method: 'POST',
      url: `${app.hosts.api}/oauth/v2/refresh`,
      body: { client_id: app.client_id, refresh_token: refreshToken },
    }),
  );
}
