import type { APIGatewayProxyEvent } from 'aws-lambda';
import { invalidRequest } from './errors';

/** API.md §1.2: a body over 16 KiB is refused before it is parsed. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Header lookup, case-insensitive, as HTTP wants it (API Gateway keeps the client's casing). */
export function header(event: Pick<APIGatewayProxyEvent, 'headers'>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) {
    if (k.toLowerCase() === wanted && v !== undefined) return v;
  }
  return undefined;
}

/**
 * Parses a JSON object body. Anything else (no body where one is needed, invalid JSON, an array,
 * a string, more than 16 KiB) is a 400 `invalid_request_error`, never an exception that could
 * become a 500. `__proto__` keys are dropped so that they can never reach an object's prototype.
 */
export function parseJsonObject(
  event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>,
): Record<string, unknown> {
  let raw = event.body ?? '';
  if (event.isBase64Encoded) raw = Buffer.from(raw, 'base64').toString('utf8');
  if (Buffer.byteLength(raw, 'utf8') > MAX_BODY_BYTES) {
    throw invalidRequest('body_too_large', 'The request body is larger than 16 KiB.');
  }
  if (raw.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(raw, (k, v) => (k === '__proto__' ? undefined : v));
  } catch {
    throw invalidRequest('invalid_json', 'The request body is not valid JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidRequest('invalid_body', 'The request body must be a JSON object.');
  }
  if (depthOf(value) > MAX_DEPTH) {
    throw invalidRequest('invalid_body', `The request body is nested more than ${MAX_DEPTH} levels deep.`);
  }
  return value as Record<string, unknown>;
}

/** No body of this API nests beyond 3 levels; 32 leaves room and keeps recursive code (hashing) safe. */
export const MAX_DEPTH = 32;

/** Nesting depth, measured without recursion (a hostile body must not exhaust the stack here). */
function depthOf(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return max;
    if (v !== null && typeof v === 'object') {
      for (const child of Object.values(v as Record<string, unknown>)) {
        if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
      }
    }
  }
  return max;
}

/** The caller's address as API Gateway saw it. */
export function sourceIp(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  return event.requestContext?.identity?.sourceIp ?? '127.0.0.1';
}
