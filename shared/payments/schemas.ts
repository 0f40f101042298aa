/** Request bodies of the payment routes (API.md §2.3), parsed at the edge. */
import * as v from 'valibot';
import { AmountSchema, CurrencySchema } from '../money';

const Source = v.pipe(v.string(), v.maxLength(128), v.startsWith('clv_'), v.regex(/^clv_[A-Za-z0-9_-]+$/));
const Description = v.nullish(v.pipe(v.string(), v.maxLength(255)));
const ExternalRef = v.nullish(v.pipe(v.string(), v.maxLength(12), v.regex(/^[A-Za-z0-9 ]*$/)));
const CustomerIp = v.optional(v.pipe(v.string(), v.ip()));

export const CreateChargeSchema = v.strictObject({
  source: Source,
  amount: AmountSchema,
  currency: CurrencySchema,
  capture: v.optional(v.boolean()),
  description: Description,
  external_reference_id: ExternalRef,
  customer_ip: CustomerIp,
});

export const CaptureSchema = v.strictObject({ amount: v.optional(AmountSchema) });

export const RefundSchema = v.strictObject({
  charge: v.pipe(v.string(), v.maxLength(64)),
  amount: v.optional(AmountSchema),
  reason: v.optional(v.picklist(['duplicate', 'fraudulent', 'requested_by_customer'])),
});

export const CreateSessionSchema = v.strictObject({
  amount: AmountSchema,
  currency: CurrencySchema,
  description: Description,
  external_reference_id: ExternalRef,
  capture: v.optional(v.boolean()),
});

export const PaySessionSchema = v.strictObject({
  client_secret: v.pipe(v.string(), v.minLength(1), v.maxLength(200)),
  source: Source,
});

export const moneyCodes = {
  amount: 'invalid_amount',
  currency: 'invalid_currency',
  source: 'invalid_source',
};
