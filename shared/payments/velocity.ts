/**
 * Card-testing velocity limits (docs/money.md, "Card testing"): declined session pays are counted
 * per publishable key and per shopper IP (the connection's address, never a client's claim) in
 * fixed windows, one DynamoDB item per subject and window (`VELOCITY#KEY#<key id>` /
 * `VELOCITY#IP#<ip>`, sk `WINDOW#<start epoch s>`, `declines`, TTL `expires_at_epoch`). A pay is
 * checked against both before anything is claimed or sent: past a limit it answers 429
 * `rate_limited` with `Retry-After` (the end of the window) and Clover is not called.
 *
 * The check is a read, the count a blind `ADD`: two pays checked at the same moment may together
 * go one decline past a limit each. The limits are a velocity brake, not an exact quota; the
 * exact bound on Clover calls is the session's (5 declines, in the same write as its pay lock).
 */
import { BatchGetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import { config } from '../config';
import { hooks } from '../hooks';
import { ApiError } from '../http/errors';
import { logger } from '../log';
import { emitMetric } from '../metrics';
import { pk, sk } from '../store/keys';

/** Who a pay's declines are counted against: the caller's key id and the connection's IP. */
export interface VelocitySubject {
  readonly key: string;
  readonly ip: string;
}

export interface Limits {
  readonly perKey: number;
  readonly perIp: number;
  readonly windowS: number;
}

export const limitsFromConfig = (): Limits => ({
  perKey: config.declineLimitPerKey,
  perIp: config.declineLimitPerIp,
  windowS: config.declineWindowS,
});

/** The fixed window `nowMs` falls in: its start and end, epoch seconds. */
export function windowOf(nowMs: number, windowS: number): { start: number; end: number } {
  const s = Math.floor(nowMs / 1000);
  const start = s - (s % windowS);
  return { start, end: start + windowS };
}

/** The counter items of a subject in a window. */
export function counterKeys(subject: VelocitySubject, start: number): { pk: string; sk: string }[] {
  const w = sk.velocityWindow(start);
  return [
    { pk: pk.velocityKey(subject.key), sk: w },
    { pk: pk.velocityIp(subject.ip), sk: w },
  ];
}

/**
 * Pure: seconds to wait before a pay may go on (the rest of the window), or null when it may go on
 * now. A limit of 0 (or less) is off.
 */
export function overLimit(
  counts: { key: number; ip: number },
  limits: Limits,
  nowMs: number,
): { retryAfter: number; which: 'key' | 'ip' } | null {
  const which =
    limits.perKey > 0 && counts.key >= limits.perKey
      ? 'key'
      : limits.perIp > 0 && counts.ip >= limits.perIp
        ? 'ip'
        : null;
  if (!which) return null;
  const { end } = windowOf(nowMs, limits.windowS);
  return { retryAfter: Math.max(1, end - Math.floor(nowMs / 1000)), which };
}

export const velocityLimited = (retryAfter: number): ApiError =>
  new ApiError(429, 'rate_limit_error', 'rate_limited', 'Too many declined payments from this client; retry later.', {
    retryAfter,
  });

/** Throws 429 `rate_limited` when the subject is past a limit in the current window. */
export async function checkVelocity(subject: VelocitySubject, now = hooks.now(), limits = limitsFromConfig()) {
  if (limits.perKey <= 0 && limits.perIp <= 0) return;
  const { start } = windowOf(now, limits.windowS);
  const keys = counterKeys(subject, start);
  const out = await dynamo.send(
    new BatchGetCommand({
      RequestItems: {
        [config.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'pk, declines' },
      },
    }),
  );
  const items = out.Responses?.[config.tableName] ?? [];
  const count = (p: string) => Number(items.find((i) => i.pk === p)?.declines ?? 0);
  const over = overLimit({ key: count(keys[0]!.pk), ip: count(keys[1]!.pk) }, limits, now);
  if (!over) return;
  emitMetric('CardTestingBlocked');
  logger.warn('decline velocity limit reached', { which: over.which, keyId: subject.key, ip: subject.ip });
  throw velocityLimited(over.retryAfter);
}

/** Counts one declined pay against its key and IP (best effort: a failure is logged, never thrown). */
export async function countDecline(subject: VelocitySubject, now = hooks.now(), windowS = config.declineWindowS) {
  const { start, end } = windowOf(now, windowS);
  await Promise.all(
    counterKeys(subject, start).map((Key) =>
      dynamo.send(
        new UpdateCommand({
          TableName: config.tableName,
          Key,
          UpdateExpression: 'ADD declines :one SET expires_at_epoch = if_not_exists(expires_at_epoch, :ttl)',
          ExpressionAttributeValues: { ':one': 1, ':ttl': end + windowS },
        }),
      ),
    ),
  ).catch((e) => logger.warn('decline not counted', { error: (e as Error)?.name }));
}
