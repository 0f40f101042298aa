/**
 * The card-data scanner: Luhn-valid 13–19 digit runs (shared/redact.ts `findCardNumbers`), the
 * sandbox numbers this suite sends however they are written, and the suite's distinctive CVVs next
 * to a field name. Long hex tokens are skipped for the Luhn scan only: SHA-256 digests (API-key
 * hashes, request hashes) hold a Luhn-valid run by chance about once in 500, and they are not card
 * data. The scanner is itself tested to find planted numbers (scenario "leak scan").
 */
import { findCardNumbers } from '../../shared/redact';

/** Every card number this suite sends anywhere (valid or not), as planted probes included. */
export const SENT_NUMBERS = [
  '4242424242424242',
  '378282246310005',
  '4000056655665556',
  '4005571702222222',
  '5555555555554444',
  '6011000990139424',
] as const;

/** The CVVs this suite uses: distinctive, so that they are looked for next to a field name. */
export const SENT_CVVS = ['739', '7391'] as const;

function luhnRuns(text: string): string[] {
  const hits: string[] = [];
  for (const m of text.matchAll(/[0-9A-Za-z]+/g)) {
    const token = m[0];
    if (token.length >= 32 && /^[0-9a-f]+$/i.test(token) && /[a-f]/i.test(token)) continue;
    hits.push(...findCardNumbers(token));
  }
  return hits;
}

const CVV_IN_FIELD = new RegExp(
  String.raw`\b(?:cvv2?|cvc2?|security_code|card_code)\b\\?["']?\s*[:=]\s*\\?["']?(?:${SENT_CVVS.join('|')})\b`,
  'gi',
);

export function leaksIn(text: string): string[] {
  const found = new Set(luhnRuns(text));
  for (const n of SENT_NUMBERS) {
    const spaced = n.replace(/(\d{4})(?=\d)/g, '$1 ');
    const dashed = n.replace(/(\d{4})(?=\d)/g, '$1-');
    for (const shape of [n, spaced, dashed]) if (text.includes(shape)) found.add(shape);
  }
  for (const m of text.matchAll(CVV_IN_FIELD)) found.add(m[0]);
  return [...found];
}
