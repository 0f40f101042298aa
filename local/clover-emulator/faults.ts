// Injected failures (API.md §3.1): the next `times` requests matching a path prefix (and method,
// and merchant when `merchant_id` is given) get a canned status/body, wait `delay_ms`, or lose
// their connection. With `after_effect` the request is carried out first and only its response is
// replaced, delayed or lost.

import { invalidRequest } from './errors';
import { isInt } from './http';

export interface Fault {
  id: number;
  path: string;
  method: string | null;
  /** Only requests authenticated as this merchant (null: any request). */
  merchant_id: string | null;
  status: number | null;
  body: unknown;
  delay_ms: number;
  times: number;
  drop: boolean;
  after_effect: boolean;
}

const FIELDS = new Set([
  'path',
  'method',
  'merchant_id',
  'status',
  'body',
  'delay_ms',
  'times',
  'drop',
  'after_effect',
]);
const MAX_DELAY_MS = 120_000;

export class Faults {
  private faults: Fault[] = [];
  private nextId = 1;

  add(input: unknown): Fault {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw invalidRequest('body must be a JSON object');
    }
    const f = input as Record<string, unknown>;
    for (const key of Object.keys(f)) if (!FIELDS.has(key)) throw invalidRequest(`unknown field ${key}`, key);
    if (typeof f.path !== 'string' || !f.path.startsWith('/')) throw invalidRequest('path must start with /', 'path');
    if (f.method !== undefined && f.method !== null && typeof f.method !== 'string') {
      throw invalidRequest('method must be a string', 'method');
    }
    if (f.merchant_id !== undefined && f.merchant_id !== null && typeof f.merchant_id !== 'string') {
      throw invalidRequest('merchant_id must be a string', 'merchant_id');
    }
    if (f.status !== undefined && f.status !== null && (!isInt(f.status) || f.status < 100 || f.status > 599)) {
      throw invalidRequest('status must be an HTTP status code', 'status');
    }
    if (f.delay_ms !== undefined && (!isInt(f.delay_ms) || f.delay_ms < 0 || f.delay_ms > MAX_DELAY_MS)) {
      throw invalidRequest(`delay_ms must be an integer from 0 to ${MAX_DELAY_MS}`, 'delay_ms');
    }
    if (f.times !== undefined && (!isInt(f.times) || f.times < 1)) {
      throw invalidRequest('times must be a positive integer', 'times');
    }
    for (const flag of ['drop', 'after_effect'] as const) {
      if (f[flag] !== undefined && typeof f[flag] !== 'boolean')
        throw invalidRequest(`${flag} must be a boolean`, flag);
    }
    const fault: Fault = {
      id: this.nextId++,
      path: f.path,
      method: typeof f.method === 'string' ? f.method.toUpperCase() : null,
      merchant_id: typeof f.merchant_id === 'string' ? f.merchant_id : null,
      status: isInt(f.status) ? f.status : null,
      body: f.body,
      delay_ms: isInt(f.delay_ms) ? f.delay_ms : 0,
      times: isInt(f.times) ? f.times : 1,
      drop: f.drop === true,
      after_effect: f.after_effect === true,
    };
    if (fault.status === null && !fault.drop && fault.delay_ms === 0) {
      throw invalidRequest('a fault needs status, delay_ms or drop');
    }
    this.faults.push(fault);
    return fault;
  }

  /** The first fault matching this request, with one of its `times` used up. */
  take(method: string, path: string, merchantId: string | null = null): Fault | null {
    const index = this.faults.findIndex(
      (f) =>
        path.startsWith(f.path) &&
        (!f.method || f.method === method) &&
        (!f.merchant_id || f.merchant_id === merchantId),
    );
    const fault = this.faults[index];
    if (!fault) return null;
    fault.times -= 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  clear(): number {
    const count = this.faults.length;
    this.faults = [];
    return count;
  }
}
