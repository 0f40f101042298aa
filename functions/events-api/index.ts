/** Webhook endpoints and events (secret key): API.md §2.5. */
import {
  CreateEndpointSchema,
  createEndpoint,
  endpointObject,
  endpointOf,
  eventsPage,
  eventWithDeliveries,
  ListEventsSchema,
  ResendSchema,
  removeEndpoint,
  resend,
  rotate,
} from '../../shared/events/endpoints';
import { listEndpoints } from '../../shared/events/store';
import { httpHandler } from '../../shared/http/handler';
import { parseJsonObject } from '../../shared/http/request';
import { json } from '../../shared/http/response';
import { parseWith } from '../../shared/http/validate';

export const handler = httpHandler({
  'POST /v1/webhook-endpoints': async ({ event, caller }) => {
    const body = parseWith(CreateEndpointSchema, parseJsonObject(event));
    const { endpoint, secret } = await createEndpoint(caller.merchantId, body);
    return json(201, endpointObject(endpoint, secret));
  },
  'GET /v1/webhook-endpoints': async ({ caller }) => {
    const all = (await listEndpoints(caller.merchantId)).sort((a, b) => (a.id < b.id ? 1 : -1));
    return json(200, { object: 'list', data: all.map((e) => endpointObject(e)), has_more: false });
  },
  'GET /v1/webhook-endpoints/{id}': async ({ params, caller }) =>
    json(200, endpointObject(await endpointOf(caller.merchantId, params.id ?? ''))),
  'DELETE /v1/webhook-endpoints/{id}': async ({ params, caller }) => {
    await removeEndpoint(caller.merchantId, params.id ?? '');
    return json(200, { id: params.id, object: 'webhook_endpoint', deleted: true });
  },
  'POST /v1/webhook-endpoints/{id}/rotate-secret': async ({ params, caller }) => {
    const { endpoint, secret } = await rotate(caller.merchantId, params.id ?? '');
    return json(200, endpointObject(endpoint, secret));
  },
  'GET /v1/events': async ({ event, caller }) => {
    const q = parseWith(ListEventsSchema, { ...(event.queryStringParameters ?? {}) });
    return json(200, await eventsPage(caller.merchantId, q));
  },
  'GET /v1/events/{id}': async ({ params, caller }) =>
    json(200, await eventWithDeliveries(caller.merchantId, params.id ?? '')),
  'POST /v1/events/{id}/resend': async ({ event, params, caller }) => {
    const body = event.body ? parseWith(ResendSchema, parseJsonObject(event)) : {};
    return json(200, await resend(caller.merchantId, params.id ?? '', body.endpoint));
  },
});
