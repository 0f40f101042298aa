// SCL refunds (clover-api.md §5.4–5.5, §13.13). A refund of an uncaptured authorization is a void:
// whole amount only, as Clover's own WooCommerce plugin does it.

import type { Principal } from './auth';
import { ownCharge } from './charges';
import { type Emu, settingFor } from './context';
import { invalidRequest, type Reply, requestError, resourceMissing } from './errors';
import { type ApiRequest, isInt, objectBody, optionalMetadata, optionalString } from './http';
import { withIdempotency } from './idempotency';
import { cloverId } from './ids';
import { listable, newestFirst, paginate } from './pagination';
import type { RefundObject } from './state';

const REASONS = new Set(['duplicate', 'fraudulent', 'requested_by_customer']);

/** POST /v1/refunds */
export function createRefund(emu: Emu, req: ApiRequest, principal: Principal): Reply {
  return withIdempotency(emu, req, principal, () => {
    const body = objectBody(req);
    if (typeof body.charge !== 'string' || body.charge === '') throw invalidRequest('charge is required', 'charge');
    let amount: number | null = null;
    if (body.amount !== undefined && body.amount !== null) {
      if (!isInt(body.amount) || body.amount < 1) {
        throw requestError('invalid_charge_amount', 'amount must be a positive integer number of cents', 'amount');
      }
      amount = body.amount;
    }
    const reason = optionalString(body, 'reason', 64);
    if (reason !== null && !REASONS.has(reason)) {
      throw invalidRequest('reason must be duplicate, fraudulent or requested_by_customer', 'reason');
    }
    const externalReferenceId = optionalString(body, 'external_reference_id', 12);
    const metadata = optionalMetadata(body);
    const { charge } = ownCharge(emu, principal, body.charge, 'charge');

    if (charge.status === 'failed') throw invalidRequest('This charge failed; there is nothing to refund.', 'charge');
    let refundAmount: number;
    if (!charge.captured) {
      if (charge.refunded) throw requestError('charge_already_refunded', 'This authorization has already been voided.');
      if (amount !== null && amount !== charge.amount) {
        throw invalidRequest('An uncaptured charge can only be refunded (voided) in full.', 'amount');
      }
      refundAmount = charge.amount;
    } else {
      const remaining = charge.amount_captured - charge.amount_refunded;
      if (remaining <= 0) throw requestError('charge_already_refunded', 'This charge has already been refunded.');
      refundAmount = amount ?? remaining;
      if (refundAmount > remaining) {
        throw requestError(
          'amount_too_large',
          `Refund amount (${refundAmount}) is greater than the unrefunded amount on the charge (${remaining}).`,
          'amount',
        );
      }
    }
    charge.amount_refunded += refundAmount;
    charge.refunded = charge.amount_refunded >= (charge.captured ? charge.amount_captured : charge.amount);

    const refund: RefundObject = {
      id: cloverId(),
      object: 'refund',
      amount: refundAmount,
      charge: charge.id,
      created: emu.now(),
      currency: charge.currency,
      status: 'succeeded',
      reason,
      external_reference_id: externalReferenceId,
      metadata,
    };
    emu.store.refunds.set(refund.id, { merchant_id: principal.merchant_id, seq: emu.store.nextSeq(), refund });
    emu.store.changed();
    return { status: 200, body: refund, definitive: true };
  });
}

/** GET /v1/refunds/{id} */
export function getRefund(emu: Emu, principal: Principal, id: string): Reply {
  const record = emu.store.refunds.get(id);
  if (!record || record.merchant_id !== principal.merchant_id) throw resourceMissing('refund', id);
  return { status: 200, body: record.refund };
}

/** GET /v1/refunds?charge= */
export function listRefunds(emu: Emu, req: ApiRequest, principal: Principal): Reply {
  const chargeId = req.query.get('charge');
  const own = newestFirst(
    [...emu.store.refunds.values()].filter(
      (r) => r.merchant_id === principal.merchant_id && (!chargeId || r.refund.charge === chargeId),
    ),
  );
  const lag = settingFor(emu, principal.merchant_id, 'list_lag_ms');
  return {
    status: 200,
    body: paginate(
      listable(
        own.map((r) => r.refund),
        req.query,
        emu.now(),
        lag,
      ),
      req.query,
      '/v1/refunds',
      'refund',
    ),
  };
}
