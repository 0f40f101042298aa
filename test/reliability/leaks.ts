/**
 * The card-data scanner: every Luhn-valid 12–19 digit run, whatever its first digit
 * (shared/redact.ts `findCardNumbers`, which also documents the few shapes it skips as not card
 * data: digests, UUIDs, epoch-ms times, an account id of zeros), the sandbox numbers this suite
 * sends however they are written, and the suite's distinctive CVVs next to a field name. The
 * scanner is itself tested to find planted numbers (scenario "leak scan").
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

const CVV_IN_FIELD = new RegExp(
  String.raw`\b(?:cvv2?|cvc2?|security_code|card_code)\b\\?["']?\s*[:=]\s*\\?["']?(?:${SENT_CVVS.join('|')})\b`,
  'gi',
);

export function leaksIn(text: string): string[] {
  const found = new Set(findCardNumbers(text));
  for (const n of SENT_NUMBERS) {
    const spaced = n.replace(/(\d{4})(?=\d)/g, '$1 ');
    const dashed = n.replace(/(\d{4})(?=\d)/g, '$1-');
    for (const shape of [n, spaced, dashed]) if (text.includes(shape)) found.add(shape);
  }
  for (const m of text.matchAll(CVV_IN_FIELD)) found.add(m[0]);
  return [...found];
}
