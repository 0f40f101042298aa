/**
 * The API-only tokenization path (API.md §2.3 `POST /v1/tokens`). This module and the tokens
 * function are the only code that ever holds a card number or CVV. They are checked here, sent to
 * Clover's token host with the merchant's PAKMS key, and dropped: what is returned or logged is
 * reduced to brand, first6, last4 and expiry. Error messages name the field, never its value.
 */
import * as v from 'valibot';
import { checkCard } from './card';
import { CloverHttp } from './clover/client';
import { deploymentHosts } from './clover/hosts';
import { config } from './config';
import { ApiError } from './http/errors';
import { parseWith } from './http/validate';
import { emitMetric } from './metrics';

// Lengths bound the input only; whether a value is a valid card number, month, year or CVV is
// checkCard's to say, with its card_error codes (a five-digit CVV is `invalid_cvc`, not a schema error).
const Digits = v.pipe(v.string(), v.maxLength(32));
const MonthYear = v.union([v.pipe(v.string(), v.maxLength(8)), v.pipe(v.number(), v.integer())]);

export const TokenRequestSchema = v.strictObject({
  card: v.strictObject({
    number: Digits,
    exp_month: MonthYear,
    exp_year: MonthYear,
    cvv: v.pipe(v.string(), v.maxLength(8)),
    brand: v.optional(v.pipe(v.string(), v.maxLength(20))),
    name: v.optional(v.pipe(v.string(), v.maxLength(100))),
    address_zip: v.optional(v.pipe(v.string(), v.maxLength(16))),
  }),
});

const http = new CloverHttp({
  get timeoutMs() {
    return config.cloverTimeoutMs;
  },
});

const MESSAGES = {
  invalid_number: 'The card number is not a valid card number.',
  invalid_card_type: 'The card brand is not one Clover accepts.',
  invalid_expiry_month: "The card's expiration month is invalid.",
  invalid_expiry_year: "The card's expiration year is invalid.",
  expired_card: 'The card has expired.',
  invalid_cvc: "The card's security code is invalid.",
} as const;

export interface TokenResult {
  id: string;
  object: 'token';
  card: { brand: string; first6: string; last4: string; exp_month: string; exp_year: string };
}

export async function tokenize(raw: Record<string, unknown>, pakmsKey: string, now = new Date()): Promise<TokenResult> {
  // A missing field, a wrong type or an unknown field is a request error (API.md §1.2); card checks are card errors.
  const body = parseWith(TokenRequestSchema, raw);
  const checked = checkCard(body.card, now);
  if (!checked.ok) {
    throw new ApiError(400, 'card_error', checked.code, MESSAGES[checked.code], { param: checked.param });
  }
  const card = checked.card;
  const r = await http.send<{ id?: unknown }>({
    method: 'POST',
    url: `${deploymentHosts().token}/v1/tokens`,
    headers: { apikey: pakmsKey },
    body: {
      card: {
        number: card.number,
        exp_month: card.exp_month,
        exp_year: card.exp_year,
        cvv: card.cvv,
        ...(card.brand !== 'UNKNOWN' ? { brand: card.brand } : {}),
        ...(body.card.name ? { name: body.card.name } : {}),
        ...(body.card.address_zip ? { address_zip: body.card.address_zip } : {}),
      },
    },
  });
  const summary = {
    brand: card.brand,
    first6: card.first6,
    last4: card.last4,
    exp_month: card.exp_month,
    exp_year: card.exp_year,
  };
  if (r.kind === 'ok' && typeof r.body.id === 'string' && r.body.id.startsWith('clv_')) {
    return { id: r.body.id, object: 'token', card: summary };
  }
  if (r.kind === 'clover_error' && r.status === 400) {
    const code = r.body.error?.code ?? 'invalid_request';
    const known = code in MESSAGES ? (code as keyof typeof MESSAGES) : null;
    throw new ApiError(400, 'card_error', code, known ? MESSAGES[known] : 'Clover could not tokenize this card.', {
      param: 'card',
    });
  }
  emitMetric('CloverErrors');
  if (r.kind === 'clover_error' && r.status === 429) {
    throw new ApiError(
      429,
      'rate_limit_error',
      'rate_limited',
      'Clover is rate limiting this merchant; retry shortly.',
      {
        retryAfter: r.retryAfter ?? 1,
      },
    );
  }
  if (r.kind === 'unknown') {
    throw new ApiError(
      r.reason === 'timeout' ? 504 : 502,
      'api_error',
      'clover_timeout',
      'Clover did not answer in time; retry.',
    );
  }
  if (r.kind === 'unreachable')
    throw new ApiError(503, 'api_error', 'clover_unreachable', 'Clover could not be reached; retry.');
  throw new ApiError(502, 'api_error', 'clover_error', 'Clover could not tokenize the card right now; retry.');
}
