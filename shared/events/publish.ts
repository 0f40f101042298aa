/**
 * The publisher's use case, for one batch of DynamoDB stream records: each committed change
 * becomes its events (shared/events/from-changes.ts); each event is written once (its id derives
 * from the stream record), queued for every enabled endpoint of its merchant that subscribes to
 * its type, and put on the event bus.
 *
 * Why this gives "an event if and only if the change is committed": a stream record exists only
 * for a committed write (a cancelled transaction or a failed condition writes nothing and
 * records nothing), and the stream keeps every record 24 h while this function is retried — a
 * crash anywhere here replays the batch, and the conditional writes make the replay idempotent.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { EventBus } from './bus';
import { changedAt, eventsFromChange, type Image } from './from-changes';
import { listEndpoints, newDelivery, putDeliveryOnce, putEventOnce, streamDeliveryId, subscribes } from './store';
import { eventId, type PaymentEvent } from './types';

export interface PublishResult {
  events: number;
  written: number;
  deliveries: number;
}

export const livemode = () => process.env.CLOVER_ENVIRONMENT === 'production';

export function imageOf(image: Record<string, unknown> | undefined): Image | undefined {
  return image ? (unmarshall(image as Record<string, AttributeValue>) as Image) : undefined;
}

export async function publishChanges(
  records: readonly DynamoDBRecord[],
  bus: EventBus,
  now = Date.now(),
): Promise<PublishResult> {
  const result: PublishResult = { events: 0, written: 0, deliveries: 0 };
  const produced: { merchantId: string; event: PaymentEvent }[] = [];
  for (const record of records) {
    const name = record.eventName;
    if (name !== 'INSERT' && name !== 'MODIFY' && name !== 'REMOVE') continue;
    const newImage = imageOf(record.dynamodb?.NewImage as Record<string, unknown> | undefined);
    const drafts = eventsFromChange({
      eventName: name,
      oldImage: imageOf(record.dynamodb?.OldImage as Record<string, unknown> | undefined),
      newImage,
    });
    const at = changedAt(newImage, (record.dynamodb?.ApproximateCreationDateTime ?? now / 1000) * 1000);
    for (const d of drafts) {
      const event: PaymentEvent = {
        id: eventId(at, record.eventID ?? `${record.dynamodb?.SequenceNumber}`, d.type),
        object: 'event',
        type: d.type,
        created: new Date(at).toISOString(),
        livemode: livemode(),
        data: { object: d.object },
      };
      produced.push({ merchantId: d.merchantId, event });
    }
  }
  const endpointsOf = new Map<string, Awaited<ReturnType<typeof listEndpoints>>>();
  for (const { merchantId, event } of produced) {
    result.events++;
    if (await putEventOnce(merchantId, event, now)) result.written++;
    let endpoints = endpointsOf.get(merchantId);
    if (!endpoints) {
      endpoints = await listEndpoints(merchantId);
      endpointsOf.set(merchantId, endpoints);
    }
    for (const e of endpoints) {
      if (!subscribes(e, event.type)) continue;
      const d = newDelivery(merchantId, event.id, e.id, now, streamDeliveryId(event.id, e.id));
      if (await putDeliveryOnce(d)) result.deliveries++;
    }
  }
  await bus.put(produced);
  return result;
}
