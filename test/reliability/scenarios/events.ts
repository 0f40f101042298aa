/**
 * Scenario: events under faults. A storefront's receiver that fails (500), hangs past the 10 s
 * timeout and answers slowly; DynamoDB Local stopped in the middle of the charges (a change that
 * could not be committed must produce no event); the stream poller (Lambda's event source mapping)
 * stopped while charges commit and restarted from its checkpoint, as after a crash between the
 * state change and the delivery. Counted: events the committed changes must produce (one per
 * succeeded or failed charge in the ledger), events delivered (a 2xx for a unique webhook-id) and
 * repeats (at least once: counted, allowed). None may be lost.
 */
import { expect, it } from 'vitest';
import { receiver, type Step, until } from '../../integration/events/receiver';
import { accountingTest, expectCharges, note, reconcileAll, scenario } from '../common';
import { api, CARDS, harness, type Merchant, merchantItems, newKey, onboard, sleep, token } from '../harness';
import { activeScenario } from '../summary';

const CHARGES = 16;

export function events(): void {
  scenario('Events under faults', () => {
    let m: Merchant;
    it('every committed change is delivered to the storefront, none for changes that did not commit', async () => {
      m = await onboard();
      // 500 every third request, a hang once, slow answers: the rest 200.
      const plan: Step[] = Array.from({ length: 200 }, (_, i) =>
        i === 4 ? 'hang' : i % 3 === 0 ? 500 : i % 5 === 0 ? { status: 200, delayMs: 1500 } : 200,
      );
      const rx = await receiver(plan);
      const ep = await api('POST', '/v1/webhook-endpoints', {
        key: m.secret_key,
        body: { url: rx.url, enabled_events: ['charge.succeeded', 'charge.failed'] },
      });
      expect(ep.status).toBe(201);
      const p = harness().platform;
      let made = 0;
      for (let i = 0; i < CHARGES; i++) {
        if (i === 5) await p.streams.stop(); // the event source mapping is down (a crash)
        if (i === 9) p.streams.start(); // … and back, from its checkpoint
        if (i === 11) await p.dynamodb.stop(); // our store is down: nothing commits
        if (i === 13) await p.dynamodb.start();
        const source = await token(m, i % 4 === 3 ? CARDS.decline : CARDS.visa).catch(() => null);
        if (!source) continue;
        const r = await api('POST', '/v1/charges', {
          key: m.secret_key,
          idem: newKey(),
          body: { source, amount: 500 + i, currency: 'usd' },
        });
        if (r.status === 201) made++;
        await sleep(50);
      }
      note(`${made} charges answered 201 of ${CHARGES} attempted (some during the store outage)`);
      await reconcileAll();
      const charges = await merchantItems(m.merchant_id, 'CHARGE#');
      const final = charges.filter((c) => c.status === 'succeeded' || c.status === 'failed');
      // Each settled charge is one charge at Clover (declines included, as Clover records them).
      expectCharges(final.length);
      const deliveredIds = () =>
        new Set(
          rx.received.filter((r) => r.answered !== 'hang' && r.answered < 300).map((r) => r.headers['webhook-id']),
        );
      await until(
        'every event delivered',
        () => (deliveredIds().size >= final.length ? true : undefined),
        120_000,
      ).catch(() => undefined);
      const ok = rx.received.filter((r) => r.answered !== 'hang' && r.answered < 300);
      const ids = deliveredIds();
      const objects = new Set(
        ok.map((r) => (JSON.parse(r.body) as { data: { object: { id: string } } }).data.object.id),
      );
      activeScenario().events = { expected: final.length, delivered: ids.size, duplicated: ok.length - ids.size };
      note(
        `receiver: ${rx.received.length} requests (${rx.received.filter((r) => r.answered === 500).length}× 500, ` +
          `${rx.received.filter((r) => r.answered === 'hang').length}× hang)`,
      );
      for (const c of final) expect(objects.has(c.id), `event for ${c.id} (${c.status})`).toBe(true);
      expect(ids.size).toBe(final.length);
      await rx.close();
    }, 240_000);

    accountingTest(() => [m.merchant_id]);
  });
}
