/**
 * The local gateway: an HTTP server on 127.0.0.1 that does what the deployed REST API does. It
 * builds API Gateway REST proxy events (the same shape, `requestContext.requestId` included),
 * calls the REQUEST authorizer exactly as API Gateway would (identity source `Authorization`,
 * results cached per header value, Gateway Responses for refusals), invokes the functions and
 * writes their responses back, headers and status intact. The platform invokes the deployed
 * bundles, each in its own execution environments (local/lambda-runtime.ts); unit tests may pass
 * `load` instead to call a handler module in process.
 *
 * It also answers API Gateway's control-plane call FlushStageAuthorizersCache, which the
 * functions use to make revoked keys stop working at once, as they do against AWS.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayAuthorizerResult,
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  APIGatewayRequestAuthorizerEvent,
  Context,
} from 'aws-lambda';
import {
  authorizerCacheTtlSeconds,
  type GatewayResponseType,
  gatewayResponseHeaders,
  renderGatewayBody,
} from '../shared/http/gateway-responses';
import type { FunctionName } from '../shared/routes';
import { matchRoute } from '../shared/routes';
import { answerBeforeRefusing } from './client-errors';
import type { Denial, SignedRequest } from './iam-enforcement';
import type { InvokeResult } from './lambda-runtime';

export interface GatewayOptions {
  port: number;
  host?: string;
  /** Invokes a function with an event, as Lambda's Invoke does (the platform's LambdaRuntime). */
  invoke?: (fn: FunctionName, event: unknown, requestId: string) => Promise<InvokeResult>;
  /** Without `invoke`: loads a handler module to call in process (unit tests); defaults to functions/<name>/index.ts. */
  load?: (fn: FunctionName) => Promise<{ handler: unknown }>;
  log?: (line: string) => void;
  restApiId?: string;
  stage?: string;
  /**
   * IAM for API Gateway's control plane (FlushStageAuthorizersCache): null lets a signed request
   * through, a denial is answered as AWS answers it. Without it, the call is not checked.
   */
  authorizeControl?: (req: SignedRequest) => Denial | null;
  /** Mirrors API Gateway's 10 MB payload limit; bodies above it get 413. */
  maxPayloadBytes?: number;
  /** The stage's storefront origins (CORS), for the Gateway Responses' headers as the stack sets them. */
  storefrontOrigins?: readonly string[];
}

export interface Gateway {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Extra routes served before the API (the demo storefront). */
  mount(prefix: string, handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): void;
}

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const host = opts.host ?? '127.0.0.1';
  const restApiId = opts.restApiId ?? 'local';
  const stage = opts.stage ?? 'local';
  const log = opts.log ?? (() => {});
  const invoke = opts.invoke ?? inProcess(opts.load ?? ((fn: FunctionName) => import(`../functions/${fn}/index.ts`)));
  /** A function's answer, or the error Lambda reported for it (thrown as an Error of that name). */
  const call = async <T>(fn: FunctionName, event: unknown, requestId: string): Promise<T> => {
    const r = await invoke(fn, event, requestId);
    if (r.ok) return JSON.parse(r.payload) as T;
    throw Object.assign(new Error(r.errorMessage), { name: r.errorType });
  };
  const authCache = new Map<string, { result: APIGatewayAuthorizerResult; until: number }>();
  const origins = opts.storefrontOrigins ?? [];
  /** Headers of a Gateway Response, as infra/api.ts installs them (shared/http/gateway-responses.ts). */
  const gatewayHeaders = (type: GatewayResponseType, requestId: string): Record<string, string> => ({
    'Content-Type': 'application/json',
    ...gatewayResponseHeaders(type, origins),
    'x-amzn-RequestId': requestId,
    'Request-Id': requestId,
  });
  const mounts: [string, (req: http.IncomingMessage, res: http.ServerResponse) => void][] = [];

  const server = http.createServer(async (req, res) => {
    const started = Date.now();
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = (req.method ?? 'GET').toUpperCase();
    const finish = (status: number, headers: Record<string, string>, body: string) => {
      if (!res.headersSent) res.writeHead(status, headers);
      res.end(body);
      log(`${method} ${url.pathname} ${status} ${Date.now() - started}ms`);
    };
    try {
      for (const [prefix, mounted] of mounts) {
        if (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) return mounted(req, res);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > (opts.maxPayloadBytes ?? 10 * 1024 * 1024)) {
          return finish(413, gatewayHeaders('DEFAULT_4XX', requestId), JSON.stringify({ message: 'Request Too Long' }));
        }
        chunks.push(c as Buffer);
      }
      const raw = Buffer.concat(chunks);

      const flush = url.pathname.match(/^\/restapis\/([^/]+)\/stages\/([^/]+)\/cache\/authorizers$/);
      const invokeApi = url.pathname.match(/^\/2015-03-31\/functions\/([a-z-]+)\/invocations$/);
      // AWS's control plane (the cache flush, Lambda's Invoke) is not the API: a web page the developer
      // opens must not reach it through the browser. 403 without CORS headers.
      if ((flush || invokeApi) && fromBrowser(req)) {
        return finish(
          403,
          { 'Content-Type': 'application/json' },
          JSON.stringify({ message: 'Forbidden: control-plane calls are not taken from web pages' }),
        );
      }
      if (flush && method === 'DELETE') {
        const denial = opts.authorizeControl?.({
          service: 'apigateway',
          method,
          url: req.url ?? '/',
          headers: req.headers,
          body: raw,
        });
        if (denial) {
          res.writeHead(denial.status, denial.headers);
          res.end(denial.body);
          return log(`${method} ${url.pathname} ${denial.status} (IAM)`);
        }
        authCache.clear();
        return finish(202, { 'Content-Type': 'application/json' }, '{}');
      }

      // Lambda's Invoke API, for the scheduled functions (the local scheduler and tests call it).
      if (invokeApi && method === 'POST') {
        const fn = invokeApi[1] as FunctionName;
        if (fn !== 'reconciler' && fn !== 'token-refresher' && fn !== 'event-deliverer') {
          return finish(
            404,
            { 'Content-Type': 'application/json', 'x-amzn-ErrorType': 'ResourceNotFoundException' },
            JSON.stringify({ Type: 'User', message: `Function not found: ${fn}` }),
          );
        }
        const payload = raw.length ? JSON.parse(raw.toString('utf8')) : {};
        const r = await invoke(fn, payload, requestId);
        return r.ok
          ? finish(200, { 'Content-Type': 'application/json', 'x-amz-executed-version': '$LATEST' }, r.payload)
          : finish(
              200,
              { 'Content-Type': 'application/json', 'X-Amz-Function-Error': 'Unhandled' },
              JSON.stringify({ errorType: r.errorType, errorMessage: r.errorMessage }),
            );
      }

      const found = matchRoute(method, url.pathname);
      if (!found || 'methodNotAllowed' in found) {
        // API Gateway's MISSING_AUTHENTICATION_TOKEN: a DEFAULT_4XX Gateway Response (its body, our headers).
        return finish(
          403,
          { ...gatewayHeaders('DEFAULT_4XX', requestId), 'x-amzn-ErrorType': 'MissingAuthenticationTokenException' },
          JSON.stringify({ message: 'Missing Authentication Token' }),
        );
      }
      const { route } = found;
      const event = buildEvent(req, url, raw, route.path, found.pathParameters, requestId, restApiId, stage);

      if (route.key !== 'none') {
        let auth: Awaited<ReturnType<typeof authorize>>;
        try {
          auth = await authorize(event);
        } catch (e) {
          log(`${method} ${url.pathname} 503 authorizer failed: ${(e as Error)?.name ?? 'Error'}`);
          return finish(
            503,
            gatewayHeaders('AUTHORIZER_FAILURE', requestId),
            renderGatewayBody('AUTHORIZER_FAILURE', requestId),
          );
        }
        if (auth === 'UNAUTHORIZED' || auth === 'ACCESS_DENIED') {
          return finish(
            auth === 'UNAUTHORIZED' ? 401 : 403,
            gatewayHeaders(auth, requestId),
            renderGatewayBody(auth, requestId),
          );
        }
        event.requestContext.authorizer = { ...auth, principalId: auth.principalId };
      }

      const result = await call<APIGatewayProxyResult>(route.fn, event, requestId);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
      for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String).join(', ');
      headers['x-amzn-RequestId'] = requestId;
      const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
      if (!res.headersSent) res.writeHead(result.statusCode, headers);
      res.end(body);
      log(`${method} ${url.pathname} ${result.statusCode} ${Date.now() - started}ms`);
    } catch (e) {
      // What API Gateway answers when the integration itself fails (DEFAULT_5XX Gateway Response).
      log(`${method} ${url.pathname} 502 integration error: ${(e as Error)?.name ?? 'Error'}`);
      finish(502, gatewayHeaders('DEFAULT_5XX', requestId), renderGatewayBody('DEFAULT_5XX', requestId));
    }
  });

  async function authorize(
    event: APIGatewayProxyEvent,
  ): Promise<'UNAUTHORIZED' | 'ACCESS_DENIED' | { principalId: string; [k: string]: unknown }> {
    const identity = headerValue(event.headers, 'authorization');
    // API Gateway refuses a request without the identity source before calling the authorizer.
    if (!identity) return 'UNAUTHORIZED';
    const methodArn = `arn:aws:execute-api:${REGION}:${ACCOUNT}:${restApiId}/${stage}/${event.httpMethod}${event.resource}`;
    const cached = authCache.get(identity);
    let result: APIGatewayAuthorizerResult;
    if (cached && cached.until > Date.now()) {
      result = cached.result;
    } else {
      try {
        result = await call<APIGatewayAuthorizerResult>(
          'authorizer',
          authorizerEvent(event, methodArn),
          event.requestContext.requestId,
        );
      } catch (e) {
        if ((e as Error)?.message === 'Unauthorized') return 'UNAUTHORIZED';
        throw e;
      }
      authCache.set(identity, { result, until: Date.now() + authorizerCacheTtlSeconds * 1000 });
    }
    if (!policyAllows(result, methodArn)) return 'ACCESS_DENIED';
    return { principalId: result.principalId, ...(result.context ?? {}) };
  }

  answerBeforeRefusing(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    mount: (prefix, handler) => mounts.push([prefix, handler]),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Calls handler modules in this process (unit tests of the gateway). */
function inProcess(
  load: (fn: FunctionName) => Promise<{ handler: unknown }>,
): (fn: FunctionName, event: unknown, requestId: string) => Promise<InvokeResult> {
  const modules = new Map<FunctionName, Promise<{ handler: unknown }>>();
  return async (fn, event, requestId) => {
    let m = modules.get(fn);
    if (!m) {
      m = load(fn);
      modules.set(fn, m);
    }
    const handler = (await m).handler as (e: unknown, c: Context) => Promise<unknown>;
    try {
      const out = await handler(JSON.parse(JSON.stringify(event)), lambdaContext(fn, requestId));
      return { ok: true, payload: JSON.stringify(out ?? null) };
    } catch (e) {
      return { ok: false, errorType: (e as Error)?.name ?? 'Error', errorMessage: (e as Error)?.message ?? String(e) };
    }
  };
}

/**
 * What API Gateway sends a REQUEST authorizer: the request's method, path, headers, query and
 * context — never its body.
 */
export function authorizerEvent(event: APIGatewayProxyEvent, methodArn: string): APIGatewayRequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    resource: event.resource,
    path: event.path,
    httpMethod: event.httpMethod,
    headers: event.headers,
    multiValueHeaders: event.multiValueHeaders,
    pathParameters: event.pathParameters,
    queryStringParameters: event.queryStringParameters,
    multiValueQueryStringParameters: event.multiValueQueryStringParameters,
    stageVariables: event.stageVariables,
    requestContext: event.requestContext,
  } as APIGatewayRequestAuthorizerEvent;
}

/** A request a browser sent on a web page's behalf: it names the page's origin, or says where it came from. */
function fromBrowser(req: http.IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return req.headers.origin !== undefined || (site !== undefined && site !== 'none');
}

function headerValue(headers: Record<string, string | undefined> | null, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** Evaluates an IAM policy document the way API Gateway does for execute-api:Invoke. */
function policyAllows(result: APIGatewayAuthorizerResult, methodArn: string): boolean {
  let allowed = false;
  for (const st of result.policyDocument?.Statement ?? []) {
    const s = st as { Effect: string; Resource?: string | string[]; Action?: string | string[] };
    const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource ?? ''];
    const matches = resources.some((r) => globMatch(r, methodArn));
    if (!matches) continue;
    if (s.Effect === 'Deny') return false;
    if (s.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`);
  return re.test(value);
}
const escapeRe = (s: string) => s.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');

function buildEvent(
  req: http.IncomingMessage,
  url: URL,
  raw: Buffer,
  resource: string,
  pathParameters: Record<string, string> | null,
  requestId: string,
  restApiId: string,
  stage: string,
): APIGatewayProxyEvent {
  return proxyEvent({
    method: req.method ?? 'GET',
    url,
    rawHeaders: req.rawHeaders,
    body: raw,
    sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '127.0.0.1',
    httpVersion: req.httpVersion,
    resource,
    pathParameters,
    requestId,
    restApiId,
    stage,
  });
}

export interface ProxyRequest {
  method: string;
  url: URL;
  /** Header names and values, alternating, as Node's `rawHeaders`. */
  rawHeaders: readonly string[];
  body: Buffer;
  sourceIp: string;
  httpVersion?: string;
  resource: string;
  pathParameters: Record<string, string> | null;
  requestId: string;
  restApiId?: string;
  stage?: string;
}

/**
 * The REST proxy event API Gateway sends for a request: the gateway's, and the benchmark's for
 * calling handlers in process.
 */
export function proxyEvent(r: ProxyRequest): APIGatewayProxyEvent {
  const { url, resource, pathParameters, requestId, sourceIp } = r;
  const raw = r.body;
  const restApiId = r.restApiId ?? 'local';
  const stage = r.stage ?? 'local';
  const method = r.method.toUpperCase();
  // Null-prototype maps: a header or query name like `__proto__` is just a name here.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  for (let i = 0; i < r.rawHeaders.length; i += 2) {
    const k = r.rawHeaders[i]!;
    const v = r.rawHeaders[i + 1]!;
    headers[k] = v; // API Gateway keeps the last value in `headers`, all of them in `multiValueHeaders`.
    multiValueHeaders[k] = [...(multiValueHeaders[k] ?? []), v];
  }
  headers['X-Forwarded-For'] = headers['X-Forwarded-For'] ? `${headers['X-Forwarded-For']}, ${sourceIp}` : sourceIp;
  multiValueHeaders['X-Forwarded-For'] = [headers['X-Forwarded-For']];
  let query: Record<string, string> | null = null;
  let multiQuery: Record<string, string[]> | null = null;
  for (const [k, v] of url.searchParams) {
    query ??= Object.create(null) as Record<string, string>;
    multiQuery ??= Object.create(null) as Record<string, string[]>;
    query[k] = v;
    multiQuery[k] = [...(multiQuery[k] ?? []), v];
  }
  const now = new Date();
  const contentType = (headerValue(headers, 'content-type') ?? '').toLowerCase();
  const textual = raw.length === 0 || /json|text|x-www-form-urlencoded|xml/.test(contentType) || contentType === '';
  const utf8 = raw.toString('utf8');
  // API Gateway passes text bodies as strings; bytes that are not valid UTF-8 arrive replaced.
  const isBase64Encoded = !textual;
  return {
    resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query,
    multiValueQueryStringParameters: multiQuery,
    pathParameters,
    stageVariables: null,
    body: raw.length === 0 ? null : isBase64Encoded ? raw.toString('base64') : utf8,
    isBase64Encoded,
    requestContext: {
      accountId: ACCOUNT,
      apiId: restApiId,
      authorizer: null,
      domainName: headerValue(headers, 'host') ?? 'localhost',
      domainPrefix: 'localhost',
      extendedRequestId: requestId,
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: headerValue(headers, 'user-agent') ?? null,
        userArn: null,
      },
      path: `/${stage}${url.pathname}`,
      protocol: `HTTP/${r.httpVersion ?? '1.1'}`,
      requestId,
      requestTime: now.toUTCString(),
      requestTimeEpoch: now.getTime(),
      resourceId: resource,
      resourcePath: resource,
      stage,
    },
  };
}

export function lambdaContext(fn: string, requestId: string, timeoutMs = 29_000): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${fn}`,
    memoryLimitInMB: '512',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
