import { randomBytes, randomInt, randomUUID } from 'node:crypto';

const UPPER = 'ABCDEFGHJKMNPQRSTVWXYZ0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function pick(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** Clover's 13-character uppercase ids (merchants, apps, charges, refunds, orders). */
export const cloverId = (): string => pick(UPPER, 13);

/** A single-use card token; sandbox tokens start `clv_1TST`. */
export const cardTokenId = (): string => `clv_1TST${pick(ALNUM, 20)}`;

export const hex = (bytes: number): string => randomBytes(bytes).toString('hex');

export const opaqueToken = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const digits = (length: number): string => pick('0123456789', length);

export const authCode = (): string => pick('ABCDEFGHJKLMNPQRSTUVWXYZ0123456789', 6);

export const uuid = (): string => randomUUID();
