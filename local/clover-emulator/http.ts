// The request as handlers see it, and small parsing helpers shared by them.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { invalidRequest, type Reply } from './errors';

const MAX_BODY_BYTES = 1024 * 1024;

export interface ApiRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; undefined when the body was empty. */
  body: unknown;
  /** The body was present but not JSON. */
  bodyInvalid: boolean;
}

export function header(req: ApiRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** The body as a JSON object; an empty body counts as `{}` when `optional`. */
export function objectBody(req: ApiRequest, optional = false): Record<string, unknown> {
  if (req.bodyInvalid) throw invalidRequest('Request body is not valid JSON');
  if (req.body === undefined && optional) return {};
  if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
    throw invalidRequest('Request body must be a JSON object');
  }
  return req.body as Record<string, unknown>;
}

export function optionalString(
  body: Record<string, unknown>,
  field: string,
  maxLength: number,
  param = field,
): string | null {
  const value = body[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalidRequest(`${param} must be a string`, param);
  if (value.length > maxLength) throw invalidRequest(`${param} must be at most ${maxLength} characters`, param);
  return value;
}

export function optionalMetadata(body: Record<string, unknown>): Record<string, unknown> | null {
  const value = body.metadata;
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw invalidRequest('metadata must be an object', 'metadata');
  if (JSON.stringify(value).length > 500) throw invalidRequest('metadata must be at most 500 characters', 'metadata');
  return value as Record<string, unknown>;
}

export const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export class BodyTooLarge extends Error {}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyTooLarge());
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function send(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...reply.headers };
  let payload: string | undefined;
  if (reply.text !== undefined) {
    payload = reply.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (reply.body !== undefined) {
    payload = JSON.stringify(reply.body);
    headers['content-type'] = 'application/json; charset=utf-8';
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}
