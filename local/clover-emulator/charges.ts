// SCL charges and captures (clover-api.md §5.1–5.3, §13.7–12, §13.14). Every lookup is scoped to
// the caller's merchant: another merchant's charge is answered like one that does not exist.

import type { Principal } from './auth';
import { type Emu, settingFor } from './context';
import { cloverError, invalidRequest, type Reply, requestError, resourceMissing } from './errors';
import { type ApiRequest, header, isInt, objectBody, optionalMetadata, optionalString } from './http';
import { type IdempotentReply, withIdempotency } from './idempotency';
import { cloverId, digits, authCode as newAuthCode } from './ids';
import { listable, newestFirst, paginate } from './pagination';
import type { ChargeObject, ChargeRecord } from './state';

export const MAX_AMOUNT = 99_999_999;
const ECOMIND = new Set(['ecom', 'moto']);

export function ownCharge(emu: Emu, principal: Principal, id: string, param?: string): ChargeRecord {
  const record = emu.store.charges.get(id);
  if (!record || record.merchant_id !== principal.merchant_id) throw resourceMissing('charge', id, param);
  return record;
}

function optionalCents(body: Record<string, unknown>, field: string, code: string): number {
  const value = body[field];
  if (value === undefined || value === null) return 0;
  if (!isInt(value) || value < 0) throw requestError(code, `${field} must be a non-negative integer`, field);
  return value;
}

/** POST /v1/charges */
export function createCharge(emu: Emu, req: ApiRequest, principal: Principal): Reply {
  if (emu.config.require_forwarded_for && !header(req, 'x-forwarded-for')?.trim()) {
    throw invalidRequest('The x-forwarded-for header is required', 'x-forwarded-for');
  }
  return withIdempotency(emu, req, principal, () => chargeOnce(emu, req, principal));
}

function chargeOnce(emu: Emu, req: ApiRequest, principal: Principal): IdempotentReply {
  const body = objectBody(req);
  const amount = body.amount;
  if (amount === undefined || amount === null)
    throw requestError('invalid_charge_amount', 'amount is required', 'amount');
  if (!isInt(amount) || amount < 0) {
    throw requestError('invalid_charge_amount', 'amount must be a non-negative integer number of cents', 'amount');
  }
  if (amount > MAX_AMOUNT) throw requestError('amount_too_large', `amount must be at most ${MAX_AMOUNT}`, 'amount');
  const currency = body.currency;
  if (typeof currency !== 'string' || !/^[a-z]{3}$/.test(currency)) {
    throw invalidRequest('currency must be a three-letter lower-case ISO 4217 code', 'currency');
  }
  const taxAmount = optionalCents(body, 'tax_amount', 'invalid_tax_amount');
  const tipAmount = optionalCents(body, 'tip_amount', 'invalid_tip_amount');
  if (body.capture !== undefined && typeof body.capture !== 'boolean') {
    throw invalidRequest('capture must be a boolean', 'capture');
  }
  const capture = body.capture !== false;
  const description = optionalString(body, 'description', 255);
  const externalReferenceId = optionalString(body, 'external_reference_id', 12);
  const ecomind = optionalString(body, 'ecomind', 10) ?? 'ecom';
  if (!ECOMIND.has(ecomind)) throw invalidRequest('ecomind must be ecom or moto', 'ecomind');
  const metadata = optionalMetadata(body);

  const source = body.source;
  if (typeof source !== 'string' || source === '') throw invalidRequest('source is required', 'source');
  const token = emu.store.cardTokens.get(source);
  if (!token || token.merchant_id !== principal.merchant_id) {
    throw resourceMissing(source.startsWith('clv_') ? 'token' : 'source', source, 'source', 400);
  }
  if (token.used) {
    throw requestError(
      'token_already_used',
      'This card token has already been used; tokenize the card again.',
      'source',
    );
  }
  token.used = true;

  const approved = token.outcome.kind === 'approve';
  const charge: ChargeObject = {
    id: cloverId(),
    object: 'charge',
    amount,
    amount_captured: approved && capture ? amount : 0,
    amount_refunded: 0,
    tax_amount: taxAmount,
    tip_amount: tipAmount,
    currency,
    created: emu.now(),
    captured: approved && capture,
    paid: approved,
    refunded: false,
    status: approved ? 'succeeded' : 'failed',
    description,
    external_reference_id: externalReferenceId,
    ecomind,
    metadata,
    order: cloverId(),
    ref_num: approved ? digits(12) : null,
    auth_code: approved ? newAuthCode() : null,
    outcome: approved
      ? { network_status: 'approved_by_network', type: 'authorized' }
      : { network_status: 'declined_by_network', type: 'issuer_declined' },
    payment_method_details: 'card',
    source: {
      id: token.id,
      object: 'card',
      brand: token.brand,
      exp_month: token.exp_month,
      exp_year: token.exp_year,
      first6: token.first6,
      last4: token.last4,
    },
    failure_code: approved ? null : 'card_declined',
    failure_message: token.outcome.kind === 'decline' ? token.outcome.message : null,
    livemode: false,
  };
  emu.store.charges.set(charge.id, { merchant_id: principal.merchant_id, seq: emu.store.nextSeq(), charge });
  emu.store.changed();

  if (token.outcome.kind === 'approve') return { status: 200, body: charge, definitive: true };
  // Declines carry no `type` (clover-api.md §7.2): clients must key on `error.code`.
  const declined = cloverError(emu.config.decline_status, {
    code: 'card_declined',
    message: token.outcome.message,
    charge: charge.id,
    decline_code: token.outcome.decline_code,
  });
  return { status: declined.status, body: declined.body, definitive: true };
}

/** POST /v1/charges/{id}/capture */
export function captureCharge(emu: Emu, req: ApiRequest, principal: Principal, id: string): Reply {
  return withIdempotency(emu, req, principal, () => {
    const body = objectBody(req, true);
    const { charge } = ownCharge(emu, principal, id);
    if (charge.status === 'failed') throw invalidRequest('This charge failed; there is nothing to capture.');
    if (charge.captured) throw requestError('charge_already_captured', 'This charge has already been captured.');
    if (charge.refunded) {
      throw requestError('charge_already_refunded', 'This authorization has been voided and cannot be captured.');
    }
    let amount = charge.amount;
    if (body.amount !== undefined && body.amount !== null) {
      if (!isInt(body.amount) || body.amount < 1) {
        throw requestError('invalid_charge_amount', 'amount must be a positive integer number of cents', 'amount');
      }
      if (body.amount > charge.amount) {
        throw requestError('amount_too_large', `amount must be at most the authorized ${charge.amount}`, 'amount');
      }
      amount = body.amount;
    }
    charge.captured = true;
    charge.amount_captured = amount;
    emu.store.changed();
    return { status: 200, body: charge, definitive: true };
  });
}

/** GET /v1/charges/{id} */
export function getCharge(emu: Emu, principal: Principal, id: string): Reply {
  return { status: 200, body: ownCharge(emu, principal, id).charge };
}

/** GET /v1/charges */
export function listCharges(emu: Emu, req: ApiRequest, principal: Principal): Reply {
  const own = newestFirst([...emu.store.charges.values()].filter((c) => c.merchant_id === principal.merchant_id));
  const lag = settingFor(emu, principal.merchant_id, 'list_lag_ms');
  return {
    status: 200,
    body: paginate(
      listable(
        own.map((c) => c.charge),
        req.query,
        emu.now(),
        lag,
      ),
      req.query,
      '/v1/charges',
      'charge',
    ),
  };
}
