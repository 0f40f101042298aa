// `idempotency-key` on money-moving POSTs (clover-api.md §7.4, §13.8). Clover documents the header
// but not its semantics, so the emulator plays three (`idempotency_mode`, per merchant or for all):
//  - `replay` (Stripe's rule, the default): per merchant, the same key with the same method, path
//    and body replays the first definitive answer (status and body) without doing it again; the
//    same key with anything else is a 400 idempotency_error;
//  - `reject`: a key seen before answers 400 idempotency_error, whatever the body;
//  - `ignore`: the key has no effect; the request is carried out again.
// Only definitive answers (something was done or declined) remember a key. Retention is configurable.

import { createHash } from 'node:crypto';
import type { Principal } from './auth';
import type { Emu } from './context';
import { settingFor } from './context';
import { cloverError, type Reply } from './errors';
import { type ApiRequest, header } from './http';
import { idempotencyKey } from './state';

/** A handler's reply; `definitive` replies (something was done) are remembered under the key. */
export type IdempotentReply = Reply & { definitive?: boolean };

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

export function fingerprint(req: ApiRequest): string {
  return createHash('sha256')
    .update(`${req.method} ${req.path}\n${JSON.stringify(canonical(req.body ?? null))}`)
    .digest('hex');
}

export function withIdempotency(emu: Emu, req: ApiRequest, principal: Principal, run: () => IdempotentReply): Reply {
  const key = header(req, 'idempotency-key');
  const mode = settingFor(emu, principal.merchant_id, 'idempotency_mode');
  if (!key || mode === 'ignore') return strip(run());
  const { store, config } = emu;
  const now = emu.now();
  const mapKey = idempotencyKey(principal.merchant_id, key);
  const print = fingerprint(req);
  const previous = store.idempotency.get(mapKey);
  if (previous && previous.at + config.idempotency_retention_seconds * 1000 > now) {
    if (mode === 'reject' || previous.fingerprint !== print) {
      throw cloverError(400, {
        type: 'idempotency_error',
        code: 'invalid_request',
        message:
          mode === 'reject'
            ? 'This idempotency key has already been used.'
            : 'Keys for idempotent requests can only be used with the same parameters they were first used with.',
      });
    }
    return { status: previous.status, body: structuredClone(previous.body) };
  }
  const reply = run();
  if (reply.definitive) {
    store.idempotency.set(mapKey, {
      merchant_id: principal.merchant_id,
      key,
      fingerprint: print,
      status: reply.status,
      body: structuredClone(reply.body),
      at: now,
    });
    store.changed();
  }
  return strip(reply);
}

const strip = (reply: IdempotentReply): Reply => ({ status: reply.status, body: reply.body, headers: reply.headers });
