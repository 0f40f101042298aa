/**
 * Card checks done before Clover is called (API.md §2.3). Pure functions; the tokenize function is
 * their only production caller, since it is the only code that ever holds a card number.
 */
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

export type CardBrand = 'VISA' | 'MC' | 'AMEX' | 'DISCOVER' | 'DINERS' | 'JCB' | 'UNKNOWN';

/** The brand from the number's leading digits (IIN ranges), as Clover names brands. */
export function brandOf(digits: string): CardBrand {
  if (/^4/.test(digits)) return 'VISA';
  if (/^3[47]/.test(digits)) return 'AMEX';
  if (/^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/.test(digits)) return 'MC';
  if (/^(6011|65|64[4-9]|622)/.test(digits)) return 'DISCOVER';
  if (/^(30[0-5]|36|38|39)/.test(digits)) return 'DINERS';
  if (/^35(2[89]|[3-8]\d)/.test(digits)) return 'JCB';
  return 'UNKNOWN';
}

export type CardCheckCode =
  | 'invalid_number'
  | 'invalid_card_type'
  | 'invalid_expiry_month'
  | 'invalid_expiry_year'
  | 'expired_card'
  | 'invalid_cvc';

export interface CardInput {
  readonly number: string;
  readonly exp_month: string | number;
  readonly exp_year: string | number;
  readonly cvv: string | number;
}

export interface CheckedCard {
  readonly number: string;
  readonly exp_month: string;
  readonly exp_year: string;
  readonly cvv: string;
  readonly brand: CardBrand;
  readonly first6: string;
  readonly last4: string;
}

export type CardCheck =
  | { readonly ok: true; readonly card: CheckedCard }
  | { readonly ok: false; readonly code: CardCheckCode; readonly param: string };

/** Checks a card; `now` is injected so expiry is testable. Never echoes the number or CVV. */
export function checkCard(input: CardInput, now: Date = new Date()): CardCheck {
  const number = String(input.number).replace(/[ -]/g, '');
  // 13–19 digits: the lengths Clover's brands issue (Visa 13/16/19, Amex 15, Diners 14–19,
  // Mastercard 16, Discover and JCB 16–19). The redactor covers 12–19 (shared/redact.ts).
  if (!/^\d{13,19}$/.test(number) || !luhnValid(number))
    return { ok: false, code: 'invalid_number', param: 'card[number]' };
  // A number of no brand Clover takes would only come back from Clover as `invalid_card_type`.
  const brand = brandOf(number);
  if (brand === 'UNKNOWN') return { ok: false, code: 'invalid_card_type', param: 'card[number]' };
  const monthText = String(input.exp_month).trim();
  if (!/^\d{1,2}$/.test(monthText) || Number(monthText) < 1 || Number(monthText) > 12) {
    return { ok: false, code: 'invalid_expiry_month', param: 'card[exp_month]' };
  }
  const yearText = String(input.exp_year).trim();
  if (!/^(\d{2}|\d{4})$/.test(yearText)) return { ok: false, code: 'invalid_expiry_year', param: 'card[exp_year]' };
  const year = yearText.length === 2 ? 2000 + Number(yearText) : Number(yearText);
  const month = Number(monthText);
  const nowYear = now.getUTCFullYear();
  if (year > nowYear + 50) return { ok: false, code: 'invalid_expiry_year', param: 'card[exp_year]' };
  if (year < nowYear || (year === nowYear && month < now.getUTCMonth() + 1)) {
    return { ok: false, code: 'expired_card', param: 'card[exp_year]' };
  }
  const cvv = String(input.cvv).trim();
  const cvvLength = brand === 'AMEX' ? 4 : 3;
  if (!new RegExp(`^\\d{${cvvLength}}$`).test(cvv)) return { ok: false, code: 'invalid_cvc', param: 'card[cvv]' };
  return {
    ok: true,
    card: {
      number,
      exp_month: String(month).padStart(2, '0'),
      exp_year: String(year),
      cvv,
      brand,
      first6: number.slice(0, 6),
      last4: number.slice(-4),
    },
  };
}
