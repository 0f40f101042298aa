/**
 * Input parsing at the edge (valibot): a body either parses into a typed value or becomes a 400
 * `invalid_request_error` that names the offending `param` (`card[number]` for nested fields) with
 * a stable code. Unknown fields are refused on money routes (`strictObject`).
 */
import * as v from 'valibot';
import { ApiError, invalidRequest } from './errors';

export function paramOf(issue: v.BaseIssue<unknown>): string {
  const keys = (issue.path ?? []).map((p) => String(p.key));
  if (issue.type === 'strict_object' && issue.input !== undefined) {
    // valibot reports an unknown key with the key as the last path item.
  }
  if (keys.length === 0) return '';
  return (
    keys[0] +
    keys
      .slice(1)
      .map((k) => `[${k}]`)
      .join('')
  );
}

export interface ParseOptions {
  /** Stable codes for particular params, e.g. `{ amount: 'invalid_amount' }`. */
  codes?: Record<string, string>;
  /** Wrap failures as this error type (card checks are `card_error`). */
  type?: 'invalid_request_error' | 'card_error';
}

export function parseWith<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  opts: ParseOptions = {},
): v.InferOutput<S> {
  const r = v.safeParse(schema, input, { abortEarly: true });
  if (r.success) return r.output;
  const issue = r.issues[0]!;
  const param = paramOf(issue);
  let code: string;
  let message: string;
  if (issue.kind === 'schema' && issue.type === 'strict_object' && issue.expected === 'never') {
    code = 'parameter_unknown';
    message = `Received unknown parameter: ${param}.`;
  } else if (issue.input === undefined && issue.kind === 'schema') {
    code = opts.codes?.[param] ?? 'parameter_missing';
    message = `Missing required param: ${param}.`;
  } else {
    code = opts.codes?.[param] ?? 'parameter_invalid';
    // Never valibot's own message: it can quote the input, and the input can be a card number.
    message = `Invalid ${param || 'body'}${issue.kind === 'schema' && issue.expected ? `: expected ${issue.expected}` : ''}.`;
  }
  if (opts.type === 'card_error') return throwCard(code, message, param);
  throw invalidRequest(code, message, param || undefined);
}

function throwCard(code: string, message: string, param: string): never {
  throw new ApiError(400, 'card_error', code, message, param ? { param } : {});
}
