/**
 * The answers AWS gives when it refuses a request, byte-shaped as DynamoDB (AWS JSON 1.0) and
 * Secrets Manager (AWS JSON 1.1) send them, so the SDK in a function raises the same error class
 * with the same message locally as in the cloud: AccessDeniedException for an IAM denial, and the
 * authentication failures of SigV4 verification.
 *
 * DynamoDB names its error types with the `com.amazon.coral.service#` namespace and writes
 * AccessDeniedException's text in `Message` but the authentication errors' in `message`; Secrets
 * Manager uses bare type names. The SDK reads either field and the part of `__type` after `#`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { Decision, Denial } from './policy';
import type { SigV4Failure } from './sigv4';

export type AwsJsonService = 'dynamodb' | 'secretsmanager';

/** The request names no operation of the service (bad or missing X-Amz-Target): the endpoint answers UnknownOperationException before any IAM check. */
export class UnknownOperationError extends Error {
  override readonly name = 'UnknownOperationError';
}

export interface AwsErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface ResponseOptions {
  /** x-amzn-RequestId; a new one in the service's format when absent. */
  readonly requestId?: string;
}

const CONTENT_TYPE: Record<AwsJsonService, string> = {
  dynamodb: 'application/x-amz-json-1.0',
  secretsmanager: 'application/x-amz-json-1.1',
};

const REQUEST_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** DynamoDB's request ids are 52 upper-case alphanumerics; Secrets Manager's are UUIDs. */
export function newRequestId(service: AwsJsonService): string {
  if (service === 'secretsmanager') return randomUUID();
  return Array.from(randomBytes(52), (b) => REQUEST_ID_ALPHABET[b % REQUEST_ID_ALPHABET.length]).join('');
}

/** One error answer: status 400, the service's content type and `__type`, the text in `field`. */
export function errorResponse(
  service: AwsJsonService,
  type: string,
  message: string,
  field: 'message' | 'Message',
  opts: ResponseOptions = {},
): AwsErrorResponse {
  const body = JSON.stringify({
    __type: service === 'dynamodb' ? `com.amazon.coral.service#${type}` : type,
    [field]: message,
  });
  const headers: Record<string, string> = {
    'content-type': CONTENT_TYPE[service],
    'content-length': String(Buffer.byteLength(body)),
    'x-amzn-RequestId': opts.requestId ?? newRequestId(service),
  };
  // DynamoDB checksums every response body; Secrets Manager names the error type in a header.
  if (service === 'dynamodb') headers['x-amz-crc32'] = String(crc32(body));
  else headers['x-amzn-ErrorType'] = type;
  return { status: 400, headers, body };
}

export interface DeniedRequest {
  /** The caller as AWS names it: `arn:aws:sts::<account>:assumed-role/<RoleName>/<FunctionName>`. */
  readonly principalArn: string;
  readonly action: string;
  /** The resource as the service names it in its message (Secrets Manager: the SecretId as given). */
  readonly resource: string;
  readonly decision: Exclude<Decision, 'allow'>;
}

/** AWS's wording; a request on `*` (list actions) has no "on resource" part. */
export function accessDeniedMessage(d: DeniedRequest): string {
  const on = d.resource === '*' ? '' : ` on resource: ${d.resource}`;
  const why =
    d.decision === 'explicit_deny'
      ? 'with an explicit deny in an identity-based policy'
      : `because no identity-based policy allows the ${d.action} action`;
  return `User: ${d.principalArn} is not authorized to perform: ${d.action}${on} ${why}`;
}

export function accessDeniedResponse(
  service: AwsJsonService,
  denied: DeniedRequest,
  opts: ResponseOptions = {},
): AwsErrorResponse {
  return errorResponse(service, 'AccessDeniedException', accessDeniedMessage(denied), 'Message', opts);
}

/**
 * Secrets Manager's answer when the caller may use the secret but not its customer-managed KMS key
 * (kms:Decrypt for a read, kms:GenerateDataKey for a write): it does not name the key or the action.
 */
export function kmsAccessDeniedResponse(opts: ResponseOptions = {}): AwsErrorResponse {
  return errorResponse('secretsmanager', 'AccessDeniedException', 'Access to KMS is not allowed', 'message', opts);
}

/**
 * The answer to a request whose SigV4 authentication failed. Secrets Manager, like most AWS JSON
 * services, spells out the canonical request it computed on a signature mismatch; DynamoDB does not.
 */
export function authFailureResponse(
  service: AwsJsonService,
  failure: Pick<SigV4Failure, 'code' | 'message' | 'canonicalRequest' | 'stringToSign'>,
  opts: ResponseOptions = {},
): AwsErrorResponse {
  const detailed =
    service === 'secretsmanager' && failure.canonicalRequest !== undefined && failure.stringToSign !== undefined
      ? `${failure.message}\n\nThe Canonical String for this request should have been\n'${failure.canonicalRequest}'\n\nThe String-to-Sign should have been\n'${failure.stringToSign}'\n`
      : failure.message;
  return errorResponse(service, failure.code, detailed, 'message', opts);
}

/** The answer to the first refused check of a call (see `firstDenial`), as the service words it. */
export function denialResponse(
  service: AwsJsonService,
  principalArn: string,
  denial: Denial,
  opts: ResponseOptions = {},
): AwsErrorResponse {
  const { request, decision } = denial;
  if (request.viaService === 'secretsmanager') return kmsAccessDeniedResponse(opts);
  const resource = request.messageResource ?? request.resource;
  return accessDeniedResponse(service, { principalArn, action: request.action, resource, decision }, opts);
}
