/**
 * The public REST API, built from the route table in shared/routes.ts: one resource tree, one
 * Lambda proxy integration per function, the REQUEST authorizer on every keyed route.
 *
 * Rate limits, three layers:
 * 1. WAF (infra/waf.ts): requests per client IP per 5 minutes, before anything is invoked.
 * 2. Stage throttling: a ceiling for the whole API (steady rate and burst).
 * 3. Per merchant key: a WAF rate-based rule aggregated on the Authorization header
 *    (infra/waf.ts `RatePerKey`), `merchantRateLimit` requests/s (16 by default, Clover's own
 *    per-token limit) averaged over a 60-second window. A usage plan would count exactly per second,
 *    but needs one API Gateway key per merchant created and linked outside CloudFormation before
 *    any keyed route answers; the WAF rule needs nothing at install time. It counts per API key, and
 *    a merchant has a handful of keys. `-c merchantRateLimit=0` removes the rule.
 *
 * Logging: execution logs at ERROR only, data trace off (it would log bodies: card numbers),
 * access logs as JSON with `$context` fields only — no bodies, no headers, no API keys.
 * No response cache: payment responses are per request and per merchant.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  AuthorizationType,
  EndpointType,
  IdentitySource,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  RequestAuthorizer,
  type RequestValidator,
  type Resource,
  ResponseType,
  RestApi,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigateway';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import {
  authorizerCacheTtlSeconds,
  type GatewayResponseType,
  gatewayResponseHeaders,
  gatewayResponses,
  headerOnlyGatewayResponses,
} from '../shared/http/gateway-responses';
import { type FunctionName, type Route, routes } from '../shared/routes';
import type { StageConfig } from './config';
import type { Functions } from './functions';
import { acknowledge } from './nag';

/** What each access log line carries: API Gateway's own variables, never a body or a header value. */
export const accessLogFields = {
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  requestTimeEpoch: '$context.requestTimeEpoch',
  ip: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integration.status',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integration.error',
  authorizerStatus: '$context.authorizer.status',
  authorizerLatency: '$context.authorizer.latency',
  authorizerError: '$context.authorizer.error',
  principalId: '$context.authorizer.principalId',
  errorType: '$context.error.responseType',
  wafStatus: '$context.waf.status',
} as const;

const CORS_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key'];

export interface ApiProps {
  readonly stage: StageConfig;
  readonly functions: Functions;
  readonly logKey: IKey;
}

export class Api extends Construct {
  readonly restApi: RestApi;
  readonly stageName: string;
  readonly accessLogs: LogGroup;
  readonly authorizer: RequestAuthorizer;
  /** The base URL clients use, ending in `/`: the custom domain's when there is one. */
  readonly publicUrl: string;
  /** With a custom domain: the regional target its DNS record (CNAME or alias) must point to. */
  readonly domainTarget: string | undefined;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    const { stage, functions, logKey } = props;
    this.stageName = stage.name;

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      logGroupName: `/aws/apigateway/${stage.prefix}/access`,
      retention: stage.logRetention,
      encryptionKey: logKey,
      removalPolicy: stage.removalPolicy,
    });

    this.restApi = new RestApi(this, 'RestApi', {
      restApiName: stage.prefix,
      description: `Clover payment functions (${stage.name})`,
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // With a custom domain the execute-api endpoint is off: it accepts TLS 1.0 and would stay a
      // second way in that bypasses the domain's TLS 1.2 policy (docs/deploy.md "Custom domain").
      disableExecuteApiEndpoint: stage.customDomain !== null,
      // The account-level role API Gateway uses to write CloudWatch logs (one per account and region).
      cloudWatchRole: true,
      deploy: true,
      deployOptions: {
        stageName: stage.name,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        // Per-method metrics are billed as custom metrics; the stage-level ones are free and enough.
        metricsEnabled: false,
        tracingEnabled: false,
        cachingEnabled: false,
        throttlingRateLimit: stage.stageRateLimit,
        throttlingBurstLimit: stage.stageBurstLimit,
        accessLogDestination: new LogGroupLogDestination(this.accessLogs),
        accessLogFormat: AccessLogFormat.custom(JSON.stringify(accessLogFields)),
      },
    });
    const api = this.restApi;
    // RestApi adds an unnamed `Endpoint` output; the stack's ApiUrl output is the documented one.
    api.node.tryRemoveChild('Endpoint');

    if (stage.customDomain) {
      const domain = api.addDomainName('Domain', {
        domainName: stage.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', stage.customDomain.certificateArn),
        endpointType: EndpointType.REGIONAL,
        securityPolicy: SecurityPolicy.TLS_1_2,
      });
      this.publicUrl = `https://${stage.customDomain.domainName}/`;
      this.domainTarget = domain.domainNameAliasDomainName;
    } else {
      // Built from the API id and the stage name, not from the deployment stage (`api.url`): the
      // functions' environment names it, and a reference to the stage would be a dependency cycle.
      const { region, urlSuffix } = Stack.of(this);
      this.publicUrl = `https://${api.restApiId}.execute-api.${region}.${urlSuffix}/${stage.name}/`;
      this.domainTarget = undefined;
    }
    functions.get('oauth-callback').addEnvironment('OAUTH_REDIRECT_URL', this.urlFor('/v1/oauth/callback'));

    // API Gateway writes execution logs to this group; creating it first gives it a key and a retention.
    const executionLogs = new LogGroup(this, 'ExecutionLogs', {
      logGroupName: `API-Gateway-Execution-Logs_${api.restApiId}/${stage.name}`,
      retention: stage.logRetention,
      encryptionKey: logKey,
      removalPolicy: stage.removalPolicy,
    });
    api.deploymentStage.node.addDependency(executionLogs);

    this.authorizer = new RequestAuthorizer(this, 'KeyAuthorizer', {
      authorizerName: `${stage.prefix}-api-keys`,
      handler: functions.get('authorizer'),
      identitySources: [IdentitySource.header('Authorization')],
      resultsCacheTtl: Duration.seconds(authorizerCacheTtlSeconds),
    });

    const validator: RequestValidator = api.addRequestValidator('Validator', {
      requestValidatorName: 'params-and-body',
      validateRequestParameters: true,
      validateRequestBody: true,
    });

    const integrations = new Map<FunctionName, LambdaIntegration>();
    const integrationFor = (fn: FunctionName) => {
      let integration = integrations.get(fn);
      if (!integration) {
        integration = new LambdaIntegration(functions.get(fn), { proxy: true, allowTestInvoke: false });
        integrations.set(fn, integration);
      }
      return integration;
    };

    const corsMethods = new Map<Resource, Set<string>>();
    for (const route of routes) {
      const resource = api.root.resourceForPath(route.path);
      const isKeyed = route.key !== 'none';
      const method = resource.addMethod(route.method, integrationFor(route.fn), {
        authorizationType: isKeyed ? AuthorizationType.CUSTOM : AuthorizationType.NONE,
        authorizer: isKeyed ? this.authorizer : undefined,
        requestValidator: validator,
        requestParameters: pathParameters(route),
      });
      if (!isKeyed) {
        acknowledge(method, 'AwsSolutions-APIG4', unauthenticatedReason(route));
      }
      if (browserCallable(route, stage) && stage.storefrontOrigins.length > 0) {
        const set = corsMethods.get(resource) ?? new Set<string>();
        set.add(route.method);
        corsMethods.set(resource, set);
        // Preflight is answered here; the actual response's Access-Control-Allow-Origin comes from
        // the function (Lambda proxy), which echoes the request's Origin when it is in this list.
        functions.get(route.fn).addEnvironment('CORS_ALLOWED_ORIGINS', stage.storefrontOrigins.join(','));
      }
    }
    for (const [resource, methods] of corsMethods) {
      resource.addCorsPreflight({
        allowOrigins: [...stage.storefrontOrigins],
        allowMethods: [...methods, 'OPTIONS'],
        allowHeaders: CORS_HEADERS,
        exposeHeaders: ['Request-Id', 'Idempotent-Replayed', 'Retry-After'],
        maxAge: Duration.hours(1),
      });
    }

    // Our bodies and headers on API Gateway's own answers; CORS only for a listed origin, never the
    // request's Origin echoed back (shared/http/gateway-responses.ts).
    const quoted = (type: GatewayResponseType) =>
      Object.fromEntries(
        Object.entries(gatewayResponseHeaders(type, stage.storefrontOrigins)).map(([k, v]) => [k, `'${v}'`]),
      );
    for (const [type, response] of Object.entries(gatewayResponses) as [
      keyof typeof gatewayResponses,
      (typeof gatewayResponses)[keyof typeof gatewayResponses],
    ][]) {
      api.addGatewayResponse(`Response${type}`, {
        type: ResponseType.of(type),
        statusCode: String(response.status),
        templates: { 'application/json': JSON.stringify(response.body) },
        responseHeaders: quoted(type),
      });
    }
    for (const type of headerOnlyGatewayResponses) {
      api.addGatewayResponse(`Response${type}`, { type: ResponseType.of(type), responseHeaders: quoted(type) });
    }

    functions.get('webhooks').useAuthorizerCacheFlush(api, stage.name);
    functions.get('token-refresher').useAuthorizerCacheFlush(api, stage.name);

    acknowledge(
      api.deploymentStage,
      'PCI.DSS.321-APIGWCacheEnabledAndEncrypted',
      'No response cache on a payments API: every response is specific to one merchant and one request (charges, idempotent replays); a cache could serve one caller another caller’s data or a stale payment state. The authorizer result cache is separate and keyed on the Authorization header.',
    );
    acknowledge(
      api.deploymentStage,
      'PCI.DSS.321-APIGWSSLEnabled',
      'A client certificate authenticates API Gateway to an HTTP backend. Every integration here is a Lambda proxy integration invoked through the Lambda service API (SigV4, TLS), so there is no HTTP backend to present a certificate to. Clients reach the API over TLS only.',
    );
    acknowledge(
      api.deploymentStage,
      'Serverless-APIGWXrayEnabled',
      'X-Ray is off by design (see infra/house-function.ts): latency per stage is in the access log (responseLatency, integrationLatency, authorizerLatency) at no extra cost and with no risk of capturing payloads.',
    );
    const cwRole = api.node.tryFindChild('CloudWatchRole');
    if (cwRole) {
      acknowledge(
        cwRole,
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        'This is the account-wide role API Gateway uses for the logs of every REST API in the region (AWS::ApiGateway::Account). A policy narrowed to this stack’s log groups would break logging for any other API in the account; AWS maintains this policy for exactly this role.',
      );
    }
    acknowledge(
      this,
      'AwsSolutions-COG4',
      'Callers are merchants’ storefronts and servers holding API keys (API.md §1.1), not end users with Cognito identities; the Lambda REQUEST authorizer checks the hashed key.',
    );
  }

  /** https://{id}.execute-api.{region}.amazonaws.com/{stage}/, or https://{custom domain}/ */
  get url(): string {
    return this.publicUrl;
  }

  urlFor(path: string): string {
    return `${this.publicUrl}${path.replace(/^\//, '')}`;
  }

  get stageArn(): string {
    return this.restApi.deploymentStage.stageArn;
  }
}

function pathParameters(route: Route): Record<string, boolean> | undefined {
  const names = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
  if (names.length === 0) return undefined;
  return Object.fromEntries(names.map((n) => [`method.request.path.${n}`, true]));
}

/** Publishable-key routes are for storefront pages, except the card-data route unless the stage opts in. */
function browserCallable(route: Route, stage: StageConfig): boolean {
  return route.key === 'publishable' && (!route.cardData || stage.tokensCors);
}

function unauthenticatedReason(route: Route): string {
  switch (route.path) {
    case '/health':
      return 'GET /health is a liveness probe: no key, no I/O, no data (API.md §2.1).';
    case '/v1/oauth/launch':
      return 'GET /v1/oauth/launch is the app’s launch URL, where Clover sends a merchant’s browser with the merchant id only; it carries no API key, reads nothing and writes nothing: it answers a redirect to Clover’s authorize page with a signed, short-lived, single-use state (API.md §2.5).';
    case '/v1/oauth/callback':
      return 'GET /v1/oauth/callback is where Clover redirects a merchant’s browser after install; it carries no API key. The function authenticates the request by exchanging the single-use OAuth code with Clover, checking client_id and the launch state, and proving the merchant with the new token (GET /v3/merchants/{id}, PAKMS merchantUuid) before it stores anything (API.md §2.2).';
    case '/v1/webhooks/clover':
      return 'POST /v1/webhooks/clover is called by Clover, which cannot hold our API keys; the function compares the X-Clover-Auth header with the app’s webhook code in constant time (API.md §2.2).';
    default:
      return `${route.method} ${route.path} is a route without a key in shared/routes.ts.`;
  }
}
