// The hosted iframe's files (clover-api.md §11.1), as checkout.clover.com serves them: `/sdk.js`
// for the merchant's page, and one page per card field at `/elements/<FIELD>`, loaded by sdk.js
// into iframes on the emulator's origin. Plain files, read on each request (no build step).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply } from '../errors';

const DIR = fileURLToPath(new URL('.', import.meta.url));
const FIELDS = new Set(['CARD_NUMBER', 'CARD_DATE', 'CARD_CVV', 'CARD_POSTAL_CODE']);

const JS = 'text/javascript; charset=utf-8';
const FILES: Record<string, [file: string, type: string]> = {
  '/sdk.js': ['sdk.js', JS],
  '/sdk/field.js': ['field.js', JS],
  '/sdk/field.css': ['field.css', 'text/css; charset=utf-8'],
};

/** The field pages may be framed by any storefront; they load only their own script and style and call only this origin. */
const FIELD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'";

/** The reply for an SDK file, or null when the request is not for one. */
export function sdkAsset(method: string, path: string): Reply | null {
  if (method !== 'GET' && method !== 'HEAD') return null;
  const common = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
  const file = FILES[path];
  if (file) {
    return {
      status: 200,
      text: readFileSync(join(DIR, file[0]), 'utf8'),
      headers: { ...common, 'content-type': file[1] },
    };
  }
  const field = /^\/elements\/([A-Z_]+)$/.exec(path)?.[1];
  if (field && FIELDS.has(field)) {
    return {
      status: 200,
      text: readFileSync(join(DIR, 'field.html'), 'utf8'),
      headers: {
        ...common,
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': FIELD_CSP,
        'referrer-policy': 'no-referrer',
      },
    };
  }
  return null;
}
