/**
 * DynamoDB Streams → events: maps each committed change of the table to its events, stores them,
 * queues their webhook deliveries and puts them on the event bus (shared/events/publish.ts).
 * A failure throws: the stream retries the batch (bisected), and the conditional writes make the
 * retry idempotent.
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { eventBridgeBus } from '../../shared/events/bus';
import { publishChanges } from '../../shared/events/publish';
import { logger } from '../../shared/log';

export const handler = async (event: DynamoDBStreamEvent) => {
  const r = await publishChanges(event.Records ?? [], eventBridgeBus);
  if (r.events > 0) logger.info('events published', { ...r });
  return r;
};
