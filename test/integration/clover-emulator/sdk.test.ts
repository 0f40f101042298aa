// The hosted iframe's files: /sdk.js for the page, /elements/<FIELD> for each field's iframe.
// (The fields' behaviour in a browser is covered by test/e2e.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type Harness, startHarness } from './helpers';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe('hosted iframe files', () => {
  it('serves sdk.js and the field script and style as JavaScript and CSS', async () => {
    for (const [path, type] of [
      ['/sdk.js', 'text/javascript'],
      ['/sdk/field.js', 'text/javascript'],
      ['/sdk/field.css', 'text/css'],
    ]) {
      const r = await call(h.url, path!);
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type'), path).toContain(type);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect((await call(h.url, '/sdk.js')).body).toContain('window.Clover = Clover');
  });

  it('serves a field page for each of the four card fields, locked to its own origin', async () => {
    for (const field of ['CARD_NUMBER', 'CARD_DATE', 'CARD_CVV', 'CARD_POSTAL_CODE']) {
      const r = await call(h.url, `/elements/${field}`);
      expect(r.status, field).toBe(200);
      expect(r.headers.get('content-type')).toContain('text/html');
      const csp = r.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("connect-src 'self'");
      expect(r.body).toContain('/sdk/field.js');
    }
    expect((await call(h.url, '/elements/CARD_NAME')).status).toBe(404);
  });

  it('keeps the files out of the request log and refuses other methods', async () => {
    await call(h.url, '/_emulator/requests', { method: 'DELETE' });
    await call(h.url, '/sdk.js');
    await call(h.url, '/elements/CARD_CVV');
    expect((await call(h.url, '/_emulator/requests')).body).toEqual([]);
    expect((await call(h.url, '/sdk.js', { method: 'POST', body: {} })).status).toBe(404);
  });
});
