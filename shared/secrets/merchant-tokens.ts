/**
 * A merchant's OAuth token pair, one secret per merchant under MERCHANT_SECRET_PREFIX. Read
 * through a per-container cache with a bounded lifetime; the lifetime never outlasts the token.
 */
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  GetSecretValueCommand,
  InvalidRequestException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  RestoreSecretCommand,
} from '@aws-sdk/client-secrets-manager';
import * as v from 'valibot';
import { type TokenPair, TokenPairSchema } from '../clover/oauth';
import { config } from '../config';
import { secretsManager } from './client';

export const merchantSecretId = (merchantId: string) => `${config.merchantSecretPrefix}${merchantId}`;

interface Cached {
  pair: TokenPair;
  until: number;
}
const cache = new Map<string, Cached>();

export function forgetMerchantTokens(merchantId?: string): void {
  if (merchantId) cache.delete(merchantId);
  else cache.clear();
}

export async function readMerchantTokens(
  merchantId: string,
  opts: { force?: boolean } = {},
): Promise<TokenPair | null> {
  const now = Date.now();
  const hit = cache.get(merchantId);
  if (!opts.force && hit && hit.until > now) return hit.pair;
  try {
    const r = await secretsManager.send(new GetSecretValueCommand({ SecretId: merchantSecretId(merchantId) }));
    const pair = v.parse(TokenPairSchema, JSON.parse(r.SecretString ?? '{}'));
    cache.set(merchantId, { pair, until: Math.min(now + config.cacheTtlMs, pair.access_token_expiration * 1000) });
    return pair;
  } catch (e) {
    if (e instanceof ResourceNotFoundException || e instanceof InvalidRequestException) {
      // Missing, or scheduled for deletion after an uninstall.
      cache.delete(merchantId);
      return null;
    }
    throw e;
  }
}

/**
 * Install: stores a merchant's first pair (or a reinstall's) — creates the secret, or restores one
 * scheduled for deletion, then puts a version. Only the onboarding function may CreateSecret.
 */
export async function writeInstalledTokens(merchantId: string, received: TokenPair): Promise<void> {
  const pair: TokenPair = { ...received, obtained_at: Math.floor(Date.now() / 1000) };
  const SecretId = merchantSecretId(merchantId);
  const SecretString = JSON.stringify(pair);
  try {
    await secretsManager.send(
      new CreateSecretCommand({
        Name: SecretId,
        SecretString,
        Description: `Clover OAuth tokens of merchant ${merchantId}`,
        KmsKeyId: config.merchantSecretKmsKeyId,
      }),
    );
  } catch (e) {
    if (e instanceof InvalidRequestException) {
      // A reinstall after an uninstall: the old secret is waiting for deletion.
      await secretsManager.send(new RestoreSecretCommand({ SecretId }));
      await secretsManager.send(new PutSecretValueCommand({ SecretId, SecretString }));
    } else if (e instanceof ResourceExistsException) {
      await secretsManager.send(new PutSecretValueCommand({ SecretId, SecretString }));
    } else {
      throw e;
    }
  }
  remember(merchantId, pair);
}

/**
 * Refresh: stores the pair Clover just issued as a new version of the existing secret
 * (PutSecretValue only, which every refreshing function may do; never CreateSecret, which they may
 * not). Clover has already retired the old refresh token, so this write is the only copy of the
 * new one: the caller must treat a failure as an outage, not as a reason to refresh again.
 */
export async function writeRefreshedTokens(merchantId: string, received: TokenPair): Promise<void> {
  const pair: TokenPair = { ...received, obtained_at: Math.floor(Date.now() / 1000) };
  await secretsManager.send(
    new PutSecretValueCommand({ SecretId: merchantSecretId(merchantId), SecretString: JSON.stringify(pair) }),
  );
  remember(merchantId, pair);
}

function remember(merchantId: string, pair: TokenPair): void {
  cache.set(merchantId, { pair, until: Math.min(Date.now() + config.cacheTtlMs, pair.access_token_expiration * 1000) });
}

/** Uninstall: the secret is scheduled for deletion (recoverable for 7 days), not destroyed at once. */
export async function scheduleMerchantTokensDeletion(merchantId: string): Promise<void> {
  cache.delete(merchantId);
  try {
    await secretsManager.send(
      new DeleteSecretCommand({ SecretId: merchantSecretId(merchantId), RecoveryWindowInDays: 7 }),
    );
  } catch (e) {
    // Already gone, or already scheduled: a duplicate uninstall changes nothing.
    if (!(e instanceof ResourceNotFoundException) && !(e instanceof InvalidRequestException)) throw e;
  }
}
