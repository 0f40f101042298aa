// State survives a restart when a data file is given.

import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bearer, call, charge, install, newMerchant, startHarness } from './helpers';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clover-emulator-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('keeps merchants, OAuth tokens, PAKMS keys, charges and the RSA key across a restart', async () => {
  const dataFile = join(dir, 'state', 'clover.json');
  const first = await startHarness({ dataFile });
  const m = await newMerchant(first.url);
  const tokens = await install(first.url, m.merchant_id);
  const pakms = (await call(first.url, '/pakms/apikey', { headers: bearer(tokens.access_token) })).body;
  const paid = await charge(first.url, m, { amount: 4200 }, '4242424242424242');
  const keys = (await call(first.url, '/assets/keys.json')).body;
  await first.close();

  const text = await readFile(dataFile, 'utf8');
  expect(text).not.toContain('4242424242424242');
  expect((await readdir(join(dir, 'state'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);

  const second = await startHarness({ dataFile });
  try {
    const read = await call(second.url, `/v1/charges/${paid.body.id}`, { headers: bearer(m.private_key) });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(paid.body);
    const again = await call(second.url, '/pakms/apikey', { headers: bearer(tokens.access_token) });
    expect(again.body).toEqual(pakms);
    expect((await call(second.url, '/assets/keys.json')).body).toEqual(keys);
    // The token used by the charge stays used.
    const reuse = await call(second.url, '/v1/charges', {
      headers: { ...bearer(m.private_key), 'x-forwarded-for': '203.0.113.7' },
      body: { amount: 1, currency: 'usd', source: paid.body.source.id },
    });
    expect(reuse.body.error.code).toBe('token_already_used');
  } finally {
    await second.close();
  }
});

it('writes within about 100 ms, without waiting for close', async () => {
  const dataFile = join(dir, 'debounce.json');
  const emu = await startHarness({ dataFile });
  try {
    const m = await newMerchant(emu.url);
    await new Promise((r) => setTimeout(r, 200));
    expect(await readFile(dataFile, 'utf8')).toContain(m.merchant_id);
  } finally {
    await emu.close();
  }
});
