/**
 * One delivery attempt: POST the event, signed, to the endpoint, and report what happened.
 *
 * The connection's DNS lookup is where the SSRF rule is enforced (shared/events/ssrf.ts): every
 * address the name resolves to is checked and the connection goes to the checked address, so a
 * name re-pointed at a private address after the endpoint was created (DNS rebinding) is refused.
 * Redirects are not followed (a 3xx is a failed attempt). The answer's body is not read beyond
 * its first bytes: a receiver cannot make us hold memory.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { ATTEMPT_TIMEOUT_MS } from './backoff';
import { signedHeaders } from './signing';
import { checkAddress, checkEndpointUrl } from './ssrf';
import type { Attempt } from './store';

export class SsrfRefused extends Error {
  override readonly name = 'SsrfRefused';
}

/** A `lookup` that refuses addresses the SSRF rule forbids. */
export type Resolver = (
  hostname: string,
  options: { all: true; verbatim: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export function guardedLookup(livemode: boolean, resolve: Resolver = dnsLookup): LookupFunction {
  return ((hostname: string, options: unknown, callback: (...args: unknown[]) => void) => {
    const opts = (typeof options === 'object' && options !== null ? options : {}) as { all?: boolean };
    resolve(hostname, { all: true, verbatim: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err);
      for (const a of addresses) {
        const refused = checkAddress(a.address, livemode);
        if (refused) return callback(new SsrfRefused(`refused: ${hostname} resolves to a ${refused}`));
      }
      if (opts.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`no address for ${hostname}`));
      return callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

export interface DeliveryRequest {
  url: string;
  livemode: boolean;
  /** Current secret first, then any previous one still in its 24 h overlap. */
  secrets: readonly string[];
  msgId: string;
  body: string;
  timeoutMs?: number;
  now?: () => number;
  /** DNS, replaceable in tests (a name re-pointed at a private address). */
  resolve?: Resolver;
}

export async function attemptDelivery(req: DeliveryRequest): Promise<Attempt> {
  const now = req.now ?? Date.now;
  const started = now();
  const at = new Date(started).toISOString();
  const finish = (status: number | null, error?: string): Attempt => ({
    at,
    status,
    duration_ms: Math.max(0, now() - started),
    ...(error ? { error } : {}),
  });
  const checked = checkEndpointUrl(req.url, req.livemode);
  if (!checked.ok) return finish(null, checked.reason);
  const url = checked.url;
  const headers = {
    ...signedHeaders(req.secrets, req.msgId, Math.floor(started / 1000), req.body),
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(req.body)),
    'user-agent': 'clover-payment-functions-webhooks/1',
  };
  const timeoutMs = req.timeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Attempt>((resolve) => {
    let settled = false;
    const done = (a: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(a);
    };
    const request = client.request(
      url,
      { method: 'POST', headers, lookup: guardedLookup(req.livemode, req.resolve), agent: false },
      (res) => {
        let read = 0;
        res.on('data', (c: Buffer) => {
          read += c.length;
          if (read > 64 * 1024) res.destroy();
        });
        res.on('end', () => done(finish(res.statusCode ?? null)));
        res.on('close', () => done(finish(res.statusCode ?? null)));
        res.on('error', () => done(finish(res.statusCode ?? null)));
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      done(finish(null, `timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    request.on('error', (e: Error & { code?: string }) =>
      done(finish(null, e instanceof SsrfRefused || e.name === 'SsrfRefused' ? e.message : (e.code ?? e.name))),
    );
    request.end(req.body);
  });
}
