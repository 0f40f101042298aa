import { describe, expect, it } from 'vitest';
import { STREAM_FILTERS } from '../../../infra/events';
import { matchesAny } from '../../../local/streams';
import { changedAt } from '../../../shared/events/from-changes';
import { eventId, isEventId } from '../../../shared/events/types';

const record = (eventName: string, sk: string) => ({
  eventName,
  dynamodb: { Keys: { pk: { S: 'MERCHANT#M' }, sk: { S: sk } } },
});

describe('stream filters (the same patterns on AWS and in local/streams.ts)', () => {
  it('the publisher sees ledger, merchant and endpoint items, never its own writes', () => {
    const f = STREAM_FILTERS['event-publisher'];
    for (const sk of ['CHARGE#ch_1', 'REFUND#re_1', 'SESSION#cs_1', 'MERCHANT', 'WHEP#we_1']) {
      expect(matchesAny(f, record('MODIFY', sk)), sk).toBe(true);
    }
    for (const sk of ['EVENT#evt_1', 'EVDLV#evt_1#dlv_1', 'IDEM#r#k', 'KEY#k', 'LEASE#OAUTH']) {
      expect(matchesAny(f, record('MODIFY', sk)), sk).toBe(false);
    }
  });

  it('the deliverer sees only new delivery items', () => {
    const f = STREAM_FILTERS['event-deliverer'];
    expect(matchesAny(f, record('INSERT', 'EVDLV#evt_1#dlv_1'))).toBe(true);
    expect(matchesAny(f, record('MODIFY', 'EVDLV#evt_1#dlv_1'))).toBe(false);
    expect(matchesAny(f, record('INSERT', 'EVENT#evt_1'))).toBe(false);
  });
});

describe('event ids', () => {
  it('derive from the stream record: a replayed batch gets the same ids, another type or record another', () => {
    const a = eventId(1_764_000_000_000, 'rec-1', 'charge.succeeded');
    expect(isEventId(a)).toBe(true);
    expect(eventId(1_764_000_000_000, 'rec-1', 'charge.succeeded')).toBe(a);
    expect(eventId(1_764_000_000_000, 'rec-1', 'charge.captured')).not.toBe(a);
    expect(eventId(1_764_000_000_000, 'rec-2', 'charge.succeeded')).not.toBe(a);
  });

  it('sort by the time of the change', () => {
    expect(
      eventId(1_764_000_000_001, 'z', 'charge.succeeded') > eventId(1_764_000_000_000, 'a', 'charge.succeeded'),
    ).toBe(true);
  });

  it("take the item's own write time when the stream's is coarse, not an unrelated one", () => {
    const approx = Date.parse('2026-11-30T10:00:00Z');
    expect(changedAt({ updated: '2026-11-30T10:00:41.123Z' }, approx)).toBe(Date.parse('2026-11-30T10:00:41.123Z'));
    expect(changedAt({ updated: '2026-11-01T00:00:00.000Z' }, approx)).toBe(approx);
    expect(changedAt(undefined, approx)).toBe(approx);
  });
});
