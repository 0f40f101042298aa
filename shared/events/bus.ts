/**
 * The stack's own EventBridge bus (EVENT_BUS_NAME): every event is put there too, source
 * `clover-payments`, detail-type = the event type, detail = the event, so AWS-native consumers
 * subscribe with a rule instead of a webhook.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { requestHandler } from '../aws';
import type { PaymentEvent } from './types';

export const EVENT_SOURCE = 'clover-payments';

export interface EventBus {
  put(events: readonly { merchantId: string; event: PaymentEvent }[]): Promise<void>;
}

let client: EventBridgeClient | undefined;

/** Put in batches of 10 (PutEvents' limit); a partly failed batch throws, so the stream batch is retried. */
export const eventBridgeBus: EventBus = {
  async put(events) {
    const busName = process.env.EVENT_BUS_NAME;
    if (!busName || events.length === 0) return;
    client ??= new EventBridgeClient({ maxAttempts: 3, requestHandler });
    for (let i = 0; i < events.length; i += 10) {
      const r = await client.send(
        new PutEventsCommand({
          Entries: events.slice(i, i + 10).map(({ merchantId, event }) => ({
            EventBusName: busName,
            Source: EVENT_SOURCE,
            DetailType: event.type,
            Time: new Date(event.created),
            Resources: [],
            Detail: JSON.stringify({ ...event, merchant_id: merchantId }),
          })),
        }),
      );
      if ((r.FailedEntryCount ?? 0) > 0) {
        throw new Error(`EventBridge refused ${r.FailedEntryCount} of ${Math.min(10, events.length - i)} events`);
      }
    }
  },
};
