/** The endpoints and events API's use cases (functions/events-api is their thin handler). */
import * as v from 'valibot';
import { invalidRequest, notFound } from '../http/errors';
import { pk } from '../store/keys';
import { publicEvent } from './dispatch';
import { livemode } from './publish';
import { newSecret } from './signing';
import { checkEndpointUrl } from './ssrf';
import {
  deleteEndpoint,
  deliveriesOf,
  type EndpointRecord,
  eventKeys,
  getEndpoint,
  getEvent,
  listEndpoints,
  listEvents,
  newDelivery,
  newEndpointId,
  putDeliveryOnce,
  putEndpoint,
  rotateSecret,
  subscribes,
} from './store';
import { EVENT_TYPES, type EventType, isEndpointId, isEventId } from './types';

/** A merchant may register this many endpoints (Stripe allows 16). */
export const MAX_ENDPOINTS = 16;
/** The previous secret keeps signing this long after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;

export const CreateEndpointSchema = v.strictObject({
  url: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)),
  enabled_events: v.pipe(
    v.array(v.picklist(['*', ...EVENT_TYPES] as [string, ...string[]])),
    v.minLength(1),
    v.maxLength(EVENT_TYPES.length + 1),
  ),
  description: v.optional(v.pipe(v.string(), v.maxLength(255))),
});

export function endpointObject(e: EndpointRecord, secret?: string): Record<string, unknown> {
  return {
    id: e.id,
    object: 'webhook_endpoint',
    url: e.url,
    enabled_events: e.enabled_events,
    status: e.status,
    disabled_reason: e.disabled_reason ?? null,
    livemode: e.livemode,
    created: e.created,
    ...(secret ? { secret } : {}),
  };
}

export async function createEndpoint(
  merchantId: string,
  input: v.InferOutput<typeof CreateEndpointSchema>,
  now = new Date(),
): Promise<{ endpoint: EndpointRecord; secret: string }> {
  const live = livemode();
  const checked = checkEndpointUrl(input.url, live);
  if (!checked.ok) throw invalidRequest('url_invalid', checked.reason, 'url');
  if ((await listEndpoints(merchantId)).length >= MAX_ENDPOINTS) {
    throw invalidRequest('too_many_endpoints', `A merchant may have at most ${MAX_ENDPOINTS} webhook endpoints.`);
  }
  const id = newEndpointId(now.getTime());
  const secret = newSecret();
  const endpoint: EndpointRecord = {
    pk: pk.merchant(merchantId),
    sk: eventKeys.endpoint(id),
    object: 'webhook_endpoint',
    id,
    merchant_id: merchantId,
    url: checked.url.toString(),
    enabled_events: [...new Set(input.enabled_events)],
    status: 'enabled',
    secrets: [{ secret }],
    livemode: live,
    created: now.toISOString(),
  };
  await putEndpoint(endpoint);
  return { endpoint, secret };
}

export async function endpointOf(merchantId: string, id: string): Promise<EndpointRecord> {
  const e = isEndpointId(id) ? await getEndpoint(merchantId, id) : null;
  if (!e) throw notFound('webhook endpoint');
  return e;
}

export async function removeEndpoint(merchantId: string, id: string): Promise<void> {
  if (!isEndpointId(id) || !(await deleteEndpoint(merchantId, id))) throw notFound('webhook endpoint');
}

export async function rotate(
  merchantId: string,
  id: string,
  now = Date.now(),
): Promise<{ endpoint: EndpointRecord; secret: string }> {
  if (!isEndpointId(id)) throw notFound('webhook endpoint');
  const secret = newSecret();
  const endpoint = await rotateSecret(merchantId, id, secret, now + ROTATION_OVERLAP_MS, now);
  if (!endpoint) throw notFound('webhook endpoint');
  return { endpoint, secret };
}

// ---- events ----

const Limit = v.pipe(v.string(), v.regex(/^\d{1,3}$/), v.transform(Number), v.minValue(1), v.maxValue(100));
const Time = v.pipe(
  v.string(),
  v.maxLength(40),
  v.transform((s) => (/^\d{1,12}$/.test(s) ? Number(s) * 1000 : Date.parse(s))),
  v.check((n) => Number.isFinite(n), 'a time as ISO 8601 or Unix seconds'),
);
export const ListEventsSchema = v.strictObject({
  limit: v.optional(Limit),
  starting_after: v.optional(
    v.pipe(
      v.string(),
      v.check((s: string) => isEventId(s), 'an event id'),
    ),
  ),
  type: v.optional(v.picklist(EVENT_TYPES as unknown as [EventType, ...EventType[]])),
  'created[gte]': v.optional(Time),
  'created[lte]': v.optional(Time),
  'created[gt]': v.optional(Time),
  'created[lt]': v.optional(Time),
});

export async function eventsPage(merchantId: string, q: v.InferOutput<typeof ListEventsSchema>) {
  const gte = q['created[gte]'] ?? (q['created[gt]'] !== undefined ? q['created[gt]'] + 1 : undefined);
  const lte = q['created[lte]'] ?? (q['created[lt]'] !== undefined ? q['created[lt]'] - 1 : undefined);
  const page = await listEvents(merchantId, {
    limit: q.limit ?? 10,
    startingAfter: q.starting_after,
    type: q.type,
    createdGte: gte,
    createdLte: lte,
  });
  return { object: 'list', data: page.data.map(publicEvent), has_more: page.hasMore, url: '/v1/events' };
}

export async function eventWithDeliveries(merchantId: string, id: string) {
  const e = isEventId(id) ? await getEvent(merchantId, id) : null;
  if (!e) throw notFound('event');
  const deliveries = await deliveriesOf(merchantId, id);
  return {
    ...publicEvent(e),
    deliveries: deliveries.map((d) => ({
      id: d.id,
      endpoint: d.endpoint,
      state: d.state,
      attempts: d.attempts,
      next_attempt_at: d.state === 'queued' ? new Date(d.next_attempt_at).toISOString() : null,
      created: d.created,
    })),
  };
}

/**
 * Resend: a new delivery to every enabled endpoint that subscribes to the event's type (or to the
 * one named), attempted at once, same `webhook-id` as before.
 */
export async function resend(merchantId: string, id: string, endpointId?: string, now = Date.now()) {
  const e = isEventId(id) ? await getEvent(merchantId, id) : null;
  if (!e) throw notFound('event');
  const endpoints = (await listEndpoints(merchantId)).filter(
    (w) => subscribes(w, e.type) && (endpointId === undefined || w.id === endpointId),
  );
  if (endpointId !== undefined && endpoints.length === 0) throw notFound('webhook endpoint', 'endpoint');
  for (const w of endpoints) await putDeliveryOnce(newDelivery(merchantId, e.id, w.id, now));
  return eventWithDeliveries(merchantId, id);
}

export const ResendSchema = v.strictObject({ endpoint: v.optional(v.pipe(v.string(), v.maxLength(64))) });
