/**
 * The reconciler's schedule (shared/payments/operation.ts backoff, shared/store/pending.ts index
 * keys) and the shared Clover rate budget (shared/clover/budget.ts, with DynamoDB mocked and the
 * clock and sleep of shared/hooks.ts replaced).
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BudgetExhausted, takeTurn } from '../../../shared/clover/budget';
import { hooks, resetHooks } from '../../../shared/hooks';
import { backoffMs, NEEDS_ATTENTION_AFTER } from '../../../shared/payments/operation';
import { PENDING_SHARDS, parseDue, pendingKeys, pendingShard } from '../../../shared/store/pending';

const id = fc.stringMatching(/^(ch|cp|re)_[0-9a-z]{23}$/);

describe('backoffMs', () => {
  it('doubles from 30 s, is capped at an hour, within ±20 %, and is the same for the same operation and try', () => {
    fc.assert(
      fc.property(id, fc.integer({ min: 1, max: 40 }), (op, tries) => {
        const base = Math.min(3600_000, 30_000 * 2 ** (tries - 1));
        const b = backoffMs(op, tries);
        expect(b).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
        expect(b).toBeLessThanOrEqual(Math.ceil(base * 1.2));
        expect(backoffMs(op, tries)).toBe(b);
      }),
    );
  });

  it('gives up waiting for attention after about an hour of tries, not days', () => {
    let total = 0;
    for (let t = 1; t < NEEDS_ATTENTION_AFTER; t++) total += 30_000 * 2 ** (t - 1);
    expect(total / 60_000).toBeLessThan(70);
  });
});

describe('pending index keys', () => {
  it('carry the next try, the pending-since time and the state, and sort by next try', () => {
    fc.assert(
      fc.property(
        id,
        fc.integer({ min: 1_700_000_000_000, max: 2_000_000_000_000 }),
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.constantFrom('P' as const, 'A' as const),
        (op, since, wait, state) => {
          const k = pendingKeys(op, since + wait, since, state);
          expect(k.pending_shard).toBe(pendingShard(op));
          expect(parseDue(k.pending_due)).toEqual({ dueMs: since + wait, sinceMs: since, state });
          const later = pendingKeys(op, since + wait + 1, since, state);
          expect(later.pending_due > k.pending_due).toBe(true);
        },
      ),
    );
  });

  it('spread operations over every shard', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 400; i++) seen.add(pendingShard(`ch_${i.toString(36).padStart(23, '0')}`));
    expect(seen.size).toBe(PENDING_SHARDS);
  });
});

describe('takeTurn (the shared Clover budget)', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  mockClient(DynamoDBClient);
  const now = 1_800_000_000_000;
  let slept: number[] = [];
  const failed = () => new ConditionalCheckFailedException({ message: 'failed', $metadata: {} });

  beforeEach(() => {
    ddb.reset();
    slept = [];
    hooks.now = () => now;
    hooks.sleep = async (ms) => {
      slept.push(ms);
    };
  });
  afterEach(() => resetHooks());

  it('goes at once when the bucket is idle, with one conditional write', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { tat: now + 125 } });
    await takeTurn('IDLEMERCHANT1');
    expect(slept).toEqual([]);
    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      Key: { pk: 'MERCHANT#IDLEMERCHANT1', sk: 'CLOVER#BUDGET' },
      UpdateExpression: 'SET tat = :next',
      ConditionExpression: 'attribute_not_exists(tat) OR tat <= :now',
      ExpressionAttributeValues: { ':next': now + 125, ':now': now },
    });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('waits for its turn when the bucket is busy, and tries the busy form first next time', async () => {
    ddb.on(UpdateCommand, { UpdateExpression: 'SET tat = :next' }).rejects(failed());
    ddb.on(UpdateCommand, { UpdateExpression: 'SET tat = tat + :t' }).resolves({ Attributes: { tat: now + 500 } });
    await takeTurn('BUSYMERCHANT1');
    expect(slept).toEqual([375]);
    ddb.resetHistory();
    await takeTurn('BUSYMERCHANT1');
    expect(ddb.commandCalls(UpdateCommand)[0]!.args[0].input.UpdateExpression).toBe('SET tat = tat + :t');
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1);
  });

  it('refuses with 429, sending nothing, when its turn is further than it may wait', async () => {
    ddb.on(UpdateCommand).rejects(failed());
    const e = await takeTurn('FULLMERCHANT1', 2000).catch((x) => x);
    expect(e).toBeInstanceOf(BudgetExhausted);
    expect(e).toMatchObject({ status: 429, type: 'rate_limit_error', extras: { retryAfter: 1 } });
    const busy = ddb.commandCalls(UpdateCommand).find((c) => c.args[0].input.UpdateExpression === 'SET tat = tat + :t');
    expect(busy!.args[0].input.ExpressionAttributeValues).toMatchObject({ ':max': now + 2000 });
  });
});
