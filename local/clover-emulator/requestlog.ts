// What the emulator received, for tests to inspect (GET /_emulator/requests), with card data and
// credentials scrubbed before anything is kept: `number` becomes first6/last4, CVV and encrypted
// PANs are dropped, credentials keep only their last four characters.

import type { IncomingHttpHeaders } from 'node:http';

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  merchant_id: string | null;
  at: string;
}

const MAX_ENTRIES = 5000;
const DROPPED_FIELDS = new Set(['cvv', 'cvc', 'cvv2', 'cvc2', 'encrypted_pan', 'track1', 'track2']);
const SECRET_FIELDS = new Set([
  'client_secret',
  'refresh_token',
  'access_token',
  'code',
  'code_verifier',
  'private_key',
]);
const SECRET_HEADERS = new Set(['authorization', 'apikey', 'proxy-authorization', 'cookie', 'x-clover-auth']);

export function maskSecret(value: string): string {
  return value.length >= 8 ? `****${value.slice(-4)}` : '****';
}

/** Any run of 12–19 digits (spaces or dashes allowed between) that could be a PAN. */
export function scrubPans(text: string): string {
  return text.replace(/\d(?:[ -]?\d){11,18}/g, (match) => {
    const digits = match.replace(/\D/g, '');
    return `${digits.slice(0, 6)}…${digits.slice(-4)}`;
  });
}

export function redactBody(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactBody);
  if (typeof value === 'string') return scrubPans(value);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const lower = key.toLowerCase();
    if (DROPPED_FIELDS.has(lower)) continue;
    if (lower === 'number' && (typeof field === 'string' || typeof field === 'number')) {
      const digits = String(field).replace(/\D/g, '');
      if (digits.length >= 12) {
        out.first6 = digits.slice(0, 6);
        out.last4 = digits.slice(-4);
        continue;
      }
    }
    if (SECRET_FIELDS.has(lower) && typeof field === 'string') {
      out[key] = maskSecret(field);
      continue;
    }
    out[key] = redactBody(field);
  }
  return out;
}

export function redactHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (SECRET_HEADERS.has(name)) {
      const scheme = /^(Bearer|Basic)\s+/i.exec(value)?.[0] ?? '';
      out[name] = `${scheme}${maskSecret(value.slice(scheme.length))}`;
    } else {
      out[name] = scrubPans(value);
    }
  }
  return out;
}

/**
 * The body as received, made safe to keep: parsed JSON redacted; anything else only described,
 * since a form-encoded or broken body could hold a CVV where no field name gives it away.
 */
export function redactRawBody(raw: string, parsed: unknown, parsedOk: boolean): unknown {
  if (raw === '') return null;
  if (parsedOk) return redactBody(parsed);
  return `[unparsed body, ${Buffer.byteLength(raw)} bytes]`;
}

export class RequestLog {
  private entries: LoggedRequest[] = [];

  add(entry: LoggedRequest): void {
    this.entries.push(entry);
    if (this.entries.length > MAX_ENTRIES) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
  }

  find(pathPrefix: string | null): LoggedRequest[] {
    return this.entries.filter((e) => !pathPrefix || e.path.startsWith(pathPrefix));
  }

  clear(): void {
    this.entries = [];
  }
}
