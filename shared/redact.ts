/**
 * Card-data redaction as a capability of its own (cf. ActiveMerchant's `scrub`): every run of
 * 12–19 digits (spaces or dashes allowed between them) that passes Luhn is masked, whatever its
 * first digit, and the secret-looking values we issue or hold (API keys, OAuth tokens) are masked
 * to a short prefix.
 *
 * Why 12–19 and any first digit: card validation accepts 13–19 (shared/card.ts), and a redactor
 * narrower than what can reach a log line would let a number through; 12 keeps a margin of one
 * digit and covers the short Maestro-style numbers of ISO/IEC 7812. Masking something that was not
 * a card (a Luhn-valid timestamp in a message string) costs only readability.
 */
import { luhnValid } from './card';

const PAN_RUN = /(?<!\d)\d(?:[ -]?\d){11,18}(?!\d)/g;
const OUR_KEYS = /\b([ps]k_(?:test|live)_)[A-Za-z0-9]{8,}/g;
const BEARER = /(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi;

/**
 * How a masked number is shown: first6…last4 (what PCI DSS allows to display) when that still
 * hides at least five digits, last4 alone for shorter numbers — first6…last4 of a 13-digit number
 * would leave three digits, one of them the Luhn check digit, to guess.
 */
export function maskPan(digits: string): string {
  return digits.length >= 15 ? `${digits.slice(0, 6)}…${digits.slice(-4)}` : `…${digits.slice(-4)}`;
}

export function redact(text: string): string {
  const skipped = notCardSpans(text);
  return text
    .replace(PAN_RUN, (run, at: number) => {
      if (skipped(at)) return run;
      const digits = run.replace(/[ -]/g, '');
      return luhnValid(digits) ? maskPan(digits) : run;
    })
    .replace(OUR_KEYS, '$1…')
    .replace(BEARER, '$1…');
}

/** Hex tokens of 32+ characters with a letter (SHA-256 digests, PAKMS keys) and UUIDs. */
const HEX_TOKEN = /(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])[0-9a-f]{32,}(?![0-9A-Za-z])/gi;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
/**
 * Clover's `ref_num`: the retrieval reference number of ISO 8583 (data element 37), twelve digits
 * by the networks' convention, in every charge Clover answers (and so in our ledger). A field of that
 * name holding exactly twelve digits is not a card number: validation refuses 12-digit numbers.
 */
const REF_NUM = /\bref_num\\?"\s*:\s*\\?"?(\d{12})(?!\d)/g;

/** Where in `text` digit runs are certainly not card data: hex tokens, UUIDs, `ref_num` values. */
function notCardSpans(text: string): (at: number) => boolean {
  const spans: [number, number][] = [];
  for (const re of [HEX_TOKEN, UUID]) {
    for (const m of text.matchAll(re)) spans.push([m.index, m.index + m[0].length]);
  }
  for (const m of text.matchAll(REF_NUM)) {
    const start = m.index + m[0].length - m[1]!.length;
    spans.push([start, start + 12]);
  }
  return (at) => spans.some(([from, to]) => at >= from && at < to);
}

/**
 * Finds card numbers in text: the scanner the leak tests use. A hit is a whole run of 12–19 digits
 * (not part of a longer run) that passes Luhn, whatever its first digit — except where such a run
 * is certainly not a card number:
 * - inside a long hex token or a UUID: digests and request ids hold Luhn-valid digit runs by chance
 *   (a SHA-256 digest about once in 500), and neither can carry a card number in clear;
 * - the twelve digits of a `ref_num` field (Clover's retrieval reference number, REF_NUM above);
 * - a single digit repeated (`000000000000`, the local AWS account id in every ARN): no issuer;
 * - 13 digits that start with 1, which read as an epoch-millisecond time from 2001 to 2033: no
 *   brand card validation accepts starts with 1 (shared/card.ts `brandOf`).
 */
export function findCardNumbers(text: string): string[] {
  const inSkipped = notCardSpans(text);
  const hits: string[] = [];
  for (const m of text.matchAll(/(?<!\d)\d{12,19}(?!\d)/g)) {
    const run = m[0];
    if (inSkipped(m.index)) continue;
    if (/^(\d)\1+$/.test(run)) continue;
    if (run.length === 13 && run.startsWith('1')) continue;
    if (luhnValid(run)) hits.push(run);
  }
  return hits;
}
