/**
 * Verifies AWS Signature Version 4 (`Authorization: AWS4-HMAC-SHA256 ...`) on a request as the
 * local endpoint received it, the way AWS's JSON services (DynamoDB, Secrets Manager) do: the same
 * canonical request the SDK's signer (@smithy/signature-v4) builds, the same 15-minute clock window,
 * and AWS's error codes and messages for each way it can fail.
 *
 * The canonical request, as the signer builds it for services other than S3:
 * - URI: the path as sent (already percent-encoded once), `.`/`..`/empty segments removed, then every
 *   byte percent-encoded again except unreserved characters and `/` (so `%2F` becomes `%252F`).
 * - Query: each name and value decoded, re-encoded per RFC 3986, sorted by name then value.
 * - Headers: the signed ones, lower-case names, values trimmed with inner whitespace runs collapsed;
 *   a header sent several times joins its values with `,` (pass Node's `req.headersDistinct` to keep
 *   them apart; `req.headers` has already joined most of them with `, `).
 * - Payload: `x-amz-content-sha256` when sent (it must match the body unless it says
 *   `UNSIGNED-PAYLOAD`), else the body's SHA-256.
 * Presigned (query-string) authentication is not supported: no SDK uses it for these services.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface SigV4Request {
  readonly method: string;
  /** Path and raw query exactly as received (`IncomingMessage.url`). */
  readonly url: string;
  /** Lower-cased header names, as in `IncomingMessage.headers` or `.headersDistinct`. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Uint8Array;
}

export interface SigningCredential {
  readonly secretAccessKey: string;
  /** A temporary credential's session token: the request must carry it in `x-amz-security-token`. */
  readonly sessionToken?: string;
}

export type SigV4ErrorCode =
  | 'UnrecognizedClientException'
  | 'InvalidSignatureException'
  | 'IncompleteSignatureException'
  | 'MissingAuthenticationTokenException';

export interface SigV4Failure {
  readonly ok: false;
  readonly code: SigV4ErrorCode;
  readonly message: string;
  /** On a signature mismatch: what the server computed (some services echo these in the message). */
  readonly canonicalRequest?: string;
  readonly stringToSign?: string;
}

export interface SigV4Success<C> {
  readonly ok: true;
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
  readonly credential: C;
  readonly signedAt: Date;
}

export interface VerifyOptions<C extends SigningCredential> {
  readonly lookup: (accessKeyId: string) => C | undefined;
  /** The signing name the endpoint answers to (`dynamodb`, `secretsmanager`); any when absent. */
  readonly service?: string;
  readonly now?: () => Date;
  /** How far x-amz-date may be from now; AWS allows 15 minutes. */
  readonly maxSkewMs?: number;
}

export const ALGORITHM = 'AWS4-HMAC-SHA256';
const FIFTEEN_MINUTES_MS = 15 * 60_000;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export const MESSAGES = {
  missingToken: 'Request is missing Authentication Token',
  unrecognizedClient: 'The security token included in the request is invalid.',
  signatureMismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
} as const;

const fail = (code: SigV4ErrorCode, message: string, extra: Partial<SigV4Failure> = {}): SigV4Failure => ({
  ok: false,
  code,
  message,
  ...extra,
});

export function verifySigV4<C extends SigningCredential>(
  req: SigV4Request,
  opts: VerifyOptions<C>,
): SigV4Success<C> | SigV4Failure {
  const authorization = header(req.headers, 'authorization');
  if (authorization === undefined) {
    return queryParams(req.url).some(([k]) => k.toLowerCase() === 'x-amz-signature')
      ? fail('IncompleteSignatureException', 'Presigned URLs are not supported by the local endpoint.')
      : fail('MissingAuthenticationTokenException', MESSAGES.missingToken);
  }

  const parsed = parseAuthorization(authorization);
  if ('error' in parsed) return fail('IncompleteSignatureException', parsed.error);
  const amzDate = requestDate(req.headers);
  const missing = [
    parsed.credential === undefined ? "Authorization header requires 'Credential' parameter." : '',
    parsed.signature === undefined ? "Authorization header requires 'Signature' parameter." : '',
    parsed.signedHeaders === undefined ? "Authorization header requires 'SignedHeaders' parameter." : '',
    amzDate === undefined ? "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header." : '',
  ].filter(Boolean);
  if (
    missing.length > 0 ||
    parsed.credential === undefined ||
    parsed.signature === undefined ||
    parsed.signedHeaders === undefined ||
    amzDate === undefined
  ) {
    return fail('IncompleteSignatureException', `${missing.join(' ')} Authorization=${authorization}`);
  }

  const scopeParts = parsed.credential.split('/');
  const terminator = scopeParts[scopeParts.length - 1];
  if (scopeParts.length !== 5 || terminator !== 'aws4_request') {
    return fail(
      'IncompleteSignatureException',
      `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'.`,
    );
  }
  const [accessKeyId, scopeDate, region, service] = scopeParts as [string, string, string, string];

  const credential = opts.lookup(accessKeyId);
  const token = header(req.headers, 'x-amz-security-token');
  if (credential === undefined || !sameSessionToken(token, credential.sessionToken)) {
    return fail('UnrecognizedClientException', MESSAGES.unrecognizedClient);
  }
  if (opts.service !== undefined && service !== opts.service) {
    return fail('InvalidSignatureException', `Credential should be scoped to correct service: '${opts.service}'. `);
  }
  if (scopeDate !== amzDate.slice(0, 8)) {
    return fail(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${amzDate.slice(0, 8)}', from '${amzDate}'.`,
    );
  }
  const signedHeaders = parsed.signedHeaders.split(';');
  if (!signedHeaders.includes('host')) {
    return fail(
      'InvalidSignatureException',
      "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
  }

  const signedAt = parseAmzDate(amzDate);
  const now = (opts.now ?? (() => new Date()))();
  const window = opts.maxSkewMs ?? FIFTEEN_MINUTES_MS;
  const minutes = `${Math.round(window / 60_000)} min.`;
  if (signedAt.getTime() < now.getTime() - window) {
    return fail(
      'InvalidSignatureException',
      `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now.getTime() - window))} (${formatAmzDate(now)} - ${minutes})`,
    );
  }
  if (signedAt.getTime() > now.getTime() + window) {
    return fail(
      'InvalidSignatureException',
      `Signature not yet current: ${amzDate} is still later than ${formatAmzDate(new Date(now.getTime() + window))} (${formatAmzDate(now)} + ${minutes})`,
    );
  }

  const bodyHash = sha256Hex(req.body);
  const declared = header(req.headers, 'x-amz-content-sha256');
  // A declared hash is what the signer signed; a service that reads the body still sees a tampered body.
  const payloadHash = declared === UNSIGNED_PAYLOAD ? declared : bodyHash;
  const canonicalRequest = buildCanonicalRequest(req, signedHeaders, payloadHash);
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const key = signingKey(credential.secretAccessKey, scopeDate, region, service);
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  if (!constantTimeEqual(expected, parsed.signature)) {
    return fail('InvalidSignatureException', MESSAGES.signatureMismatch, { canonicalRequest, stringToSign });
  }
  return { ok: true, accessKeyId, region, service, credential, signedAt };
}

interface ParsedAuthorization {
  readonly credential?: string;
  readonly signedHeaders?: string;
  readonly signature?: string;
}

function parseAuthorization(value: string): ParsedAuthorization | { error: string } {
  if (!value.startsWith(`${ALGORITHM} `)) return {};
  const fields: Record<string, string> = {};
  for (const raw of value.slice(ALGORITHM.length + 1).split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq < 0) {
      return {
        error: `'${part}' not a valid key=value pair (missing equal-sign) in Authorization header: '${value}'.`,
      };
    }
    fields[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { credential: fields.Credential, signedHeaders: fields.SignedHeaders, signature: fields.Signature };
}

/** x-amz-date, or the Date header in the same basic ISO-8601 form; undefined when neither parses. */
function requestDate(headers: SigV4Request['headers']): string | undefined {
  const amz = header(headers, 'x-amz-date');
  if (amz !== undefined) return /^\d{8}T\d{6}Z$/.test(amz) ? amz : undefined;
  const date = header(headers, 'date');
  const ms = date === undefined ? Number.NaN : Date.parse(date);
  return Number.isNaN(ms) ? undefined : formatAmzDate(new Date(ms));
}

const parseAmzDate = (s: string): Date =>
  new Date(
    `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`,
  );

export const formatAmzDate = (d: Date): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function header(headers: SigV4Request['headers'], name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(',');
}

export function buildCanonicalRequest(
  req: SigV4Request,
  signedHeaders: readonly string[],
  payloadHash: string,
): string {
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const headerLines = signedHeaders.map((name) => `${name}:${canonicalHeaderValue(req.headers[name])}`);
  return [
    req.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(req.url),
    `${headerLines.join('\n')}\n`,
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

function canonicalHeaderValue(value: string | readonly string[] | undefined): string {
  const values = value === undefined ? [] : typeof value === 'string' ? [value] : value;
  return values
    .map((x) =>
      x
        .replace(/[\r\n]/g, ' ')
        .replace(/[ \t]+/g, ' ')
        .trim(),
    )
    .join(',');
}

/** The signer's path normalisation, then a second round of encoding of the already-encoded path. */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  const normalized = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${trailing}`;
  return escapeUri(normalized).replace(/%2F/g, '/');
}

function queryParams(url: string): [string, string][] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  return url
    .slice(q + 1)
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? [decode(p), ''] : [decode(p.slice(0, eq)), decode(p.slice(eq + 1))];
    });
}

function canonicalQuery(url: string): string {
  return queryParams(url)
    .filter(([k]) => k.toLowerCase() !== 'x-amz-signature')
    .map(([k, x]) => [escapeUri(k), escapeUri(x)] as const)
    .sort(([ka, va], [kb, vb]) => (ka < kb ? -1 : ka > kb ? 1 : va < vb ? -1 : va > vb ? 1 : 0))
    .map(([k, x]) => `${k}=${x}`)
    .join('&');
}

/** Percent-decoding; a malformed escape stays as sent (its signature then fails, as it would at AWS). */
function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** RFC 3986 encoding: everything but A-Z a-z 0-9 - _ . ~ (what the SDK's escapeUri does). */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Both absent (a long-term key), or both present and equal (a session's temporary key). */
function sameSessionToken(sent: string | undefined, expected: string | undefined): boolean {
  if (sent === undefined || expected === undefined) return sent === expected;
  return constantTimeEqual(sent, expected);
}
