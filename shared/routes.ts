/**
 * The route table: the single source of truth for the public API. The CDK stack (infra/api.ts)
 * and the local gateway (local/gateway.ts) are both built from it, so a route added here exists
 * in both places or in neither.
 */

/** Which key a route accepts. `none` routes are called by Clover or by load balancers. */
export type KeyKind = 'none' | 'publishable' | 'secret';

/** The HTTP-facing Lambda functions, by folder name under functions/. */
export type HttpFunctionName =
  | 'health'
  | 'oauth-callback'
  | 'webhooks'
  | 'checkout-config'
  | 'tokens'
  | 'charges'
  | 'refunds'
  | 'checkout-sessions'
  | 'events-api';

/** Functions that no route calls directly: the authorizer and the scheduled jobs. */
export type InternalFunctionName =
  | 'authorizer'
  | 'token-refresher'
  | 'reconciler'
  | 'event-publisher'
  | 'event-deliverer';
export type FunctionName = HttpFunctionName | InternalFunctionName;

export interface Route {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** API Gateway resource path, with `{param}` placeholders. */
  readonly path: string;
  readonly fn: HttpFunctionName;
  readonly key: KeyKind;
  /** Requires an Idempotency-Key header (API.md §1.3). */
  readonly idempotent?: boolean;
  /** Carries raw card numbers: not CORS-enabled for storefront pages unless a stage opts in (infra/config.ts `tokensCors`). */
  readonly cardData?: boolean;
}

export const routes: readonly Route[] = [
  { method: 'GET', path: '/health', fn: 'health', key: 'none' },
  { method: 'GET', path: '/v1/oauth/launch', fn: 'oauth-callback', key: 'none' },
  { method: 'GET', path: '/v1/oauth/callback', fn: 'oauth-callback', key: 'none' },
  { method: 'POST', path: '/v1/webhooks/clover', fn: 'webhooks', key: 'none' },
  { method: 'GET', path: '/v1/checkout-config', fn: 'checkout-config', key: 'publishable' },
  { method: 'POST', path: '/v1/tokens', fn: 'tokens', key: 'publishable', cardData: true },
  { method: 'POST', path: '/v1/charges', fn: 'charges', key: 'secret', idempotent: true },
  { method: 'GET', path: '/v1/charges', fn: 'charges', key: 'secret' },
  { method: 'GET', path: '/v1/charges/{id}', fn: 'charges', key: 'secret' },
  { method: 'POST', path: '/v1/charges/{id}/capture', fn: 'charges', key: 'secret', idempotent: true },
  { method: 'POST', path: '/v1/refunds', fn: 'refunds', key: 'secret', idempotent: true },
  { method: 'POST', path: '/v1/checkout-sessions', fn: 'checkout-sessions', key: 'secret' },
  { method: 'GET', path: '/v1/checkout-sessions/{id}', fn: 'checkout-sessions', key: 'secret' },
  {
    method: 'POST',
    path: '/v1/checkout-sessions/{id}/pay',
    fn: 'checkout-sessions',
    key: 'publishable',
    idempotent: true,
  },
  { method: 'POST', path: '/v1/webhook-endpoints', fn: 'events-api', key: 'secret' },
  { method: 'GET', path: '/v1/webhook-endpoints', fn: 'events-api', key: 'secret' },
  { method: 'GET', path: '/v1/webhook-endpoints/{id}', fn: 'events-api', key: 'secret' },
  { method: 'DELETE', path: '/v1/webhook-endpoints/{id}', fn: 'events-api', key: 'secret' },
  { method: 'POST', path: '/v1/webhook-endpoints/{id}/rotate-secret', fn: 'events-api', key: 'secret' },
  { method: 'GET', path: '/v1/events', fn: 'events-api', key: 'secret' },
  { method: 'GET', path: '/v1/events/{id}', fn: 'events-api', key: 'secret' },
  { method: 'POST', path: '/v1/events/{id}/resend', fn: 'events-api', key: 'secret' },
];

/** The key kinds allowed on a route: a secret key may call every keyed route. */
export function keyAllowed(route: Pick<Route, 'key'>, kind: 'publishable' | 'secret'): boolean {
  if (route.key === 'none') return true;
  if (kind === 'secret') return true;
  return route.key === 'publishable';
}

export interface RouteMatch {
  readonly route: Route;
  readonly pathParameters: Record<string, string> | null;
}

/** Matches a concrete path against the table, as API Gateway's resource tree does. */
export function matchRoute(method: string, path: string): RouteMatch | { readonly methodNotAllowed: true } | null {
  let pathMatched = false;
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (!params) continue;
    pathMatched = true;
    if (route.method === method.toUpperCase()) {
      return { route, pathParameters: Object.keys(params).length > 0 ? params : null };
    }
  }
  return pathMatched ? { methodNotAllowed: true } : null;
}

function matchPath(template: string, path: string): Record<string, string> | null {
  const t = template.split('/');
  const p = path.split('/');
  if (t.length !== p.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const seg = t[i]!;
    const actual = p[i]!;
    if (seg.startsWith('{') && seg.endsWith('}')) {
      if (actual === '') return null;
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        return null;
      }
      params[seg.slice(1, -1)] = decoded;
    } else if (seg !== actual) {
      return null;
    }
  }
  return params;
}
