// Card arithmetic and the sandbox's test-card table (clover-api.md §8, §13.11).
// Full card numbers only pass through these functions; nothing here stores them.

export type Brand = 'VISA' | 'MC' | 'AMEX' | 'DISCOVER' | 'DINERS' | 'JCB';

export type CardOutcome =
  | { kind: 'approve' }
  | { kind: 'decline'; decline_code: string; message: string; partial_auth?: boolean };

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Brand from the number's prefix (IIN ranges); null when no supported network matches. */
export function detectBrand(pan: string): Brand | null {
  const p2 = Number(pan.slice(0, 2));
  const p3 = Number(pan.slice(0, 3));
  const p4 = Number(pan.slice(0, 4));
  const p6 = Number(pan.slice(0, 6));
  if (pan.startsWith('4')) return 'VISA';
  if (p2 === 34 || p2 === 37) return 'AMEX';
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return 'MC';
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) return 'DISCOVER';
  if (p4 >= 3528 && p4 <= 3589) return 'JCB';
  if ((p3 >= 300 && p3 <= 305) || p4 === 3095 || p2 === 36 || p2 === 38 || p2 === 39) return 'DINERS';
  return null;
}

const BRAND_ALIASES: Record<string, Brand> = {
  VISA: 'VISA',
  MC: 'MC',
  MASTERCARD: 'MC',
  MASTER_CARD: 'MC',
  AMEX: 'AMEX',
  AMERICAN_EXPRESS: 'AMEX',
  AMERICANEXPRESS: 'AMEX',
  DISCOVER: 'DISCOVER',
  DINERS: 'DINERS',
  DINERS_CLUB: 'DINERS',
  DINERSCLUB: 'DINERS',
  JCB: 'JCB',
};

/** A client-sent `brand` (any case, common spellings) mapped to ours; null when unknown. */
export function normalizeBrand(input: string): Brand | null {
  const key = input
    .trim()
    .toUpperCase()
    .replace(/[\s-]+/g, '_');
  return Object.hasOwn(BRAND_ALIASES, key) ? (BRAND_ALIASES[key] ?? null) : null;
}

const DECLINE = { decline_code: 'do_not_honor', message: 'The card was declined.' } as const;

/** Test PANs with a fixed outcome. Every other valid card approves. */
const OUTCOMES: ReadonlyMap<string, CardOutcome> = new Map<string, CardOutcome>([
  ['4005571702222222', { kind: 'decline', ...DECLINE }],
  ['4264281511117771', { kind: 'decline', ...DECLINE }],
  ['5424180273333333', { kind: 'decline', ...DECLINE }],
  ['375987654000004', { kind: 'decline', ...DECLINE }],
  [
    '4005578003333335',
    {
      kind: 'decline',
      decline_code: 'partial_approval_not_supported',
      message: 'The card was declined: partial approvals are not supported.',
      partial_auth: true,
    },
  ],
]);

export function outcomeFor(pan: string): CardOutcome {
  return OUTCOMES.get(pan) ?? { kind: 'approve' };
}
