/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 with the secret's bytes (the base64
 * after `whsec_`), sent as `v1,<base64>`. During a secret rotation every live secret signs, and the
 * signatures are space-separated, so a receiver holding either secret verifies.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: 32 random bytes, base64, with the `whsec_` prefix. */
export function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

function keyOf(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

export function signature(secret: string, msgId: string, timestampS: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${msgId}.${timestampS}.${body}`).digest('base64');
  return `v1,${mac}`;
}

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

/** The three headers of a delivery, signed with every secret given (the current one first). */
export function signedHeaders(
  secrets: readonly string[],
  msgId: string,
  timestampS: number,
  body: string,
): SignedHeaders {
  if (secrets.length === 0) throw new Error('no secret to sign with');
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': secrets.map((s) => signature(s, msgId, timestampS, body)).join(' '),
  };
}
