/**
 * Card-data redaction as a capability of its own (cf. ActiveMerchant's `scrub`): any run of 13–19
 * digits (spaces or dashes allowed between them) that passes Luhn is reduced to first6…last4, and
 * the secret-looking values we issue or hold (API keys, OAuth tokens) are masked to a short prefix.
 */
import { luhnValid } from './card';

const PAN_RUN = /(?<![\d])[2-6](?:[ -]?\d){12,18}(?![\d])/g;
const OUR_KEYS = /\b([ps]k_(?:test|live)_)[A-Za-z0-9]{8,}/g;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

export function redact(text: string): string {
  return text
    .replace(PAN_RUN, (run) => {
      const digits = run.replace(/[ -]/g, '');
      return luhnValid(digits) ? `${digits.slice(0, 6)}…${digits.slice(-4)}` : run;
    })
    .replace(OUR_KEYS, '$1…')
    .replace(BEARER, '$1…');
}

/**
 * Finds card numbers in text: the scanner that the leak tests use. A hit is a whole run of 13–19
 * digits (not part of a longer run) that starts like a card network's number (2–6: Mastercard 2-series,
 * Amex/Diners/JCB, Visa, Mastercard, Discover) and passes Luhn. Epoch-millisecond timestamps start
 * with 1, so they are not mistaken for cards.
 */
export function findCardNumbers(text: string): string[] {
  const hits: string[] = [];
  for (const m of text.matchAll(/(?<!\d)[2-6]\d{12,18}(?!\d)/g)) {
    if (luhnValid(m[0])) hits.push(m[0]);
  }
  return hits;
}
