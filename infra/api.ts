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
import { Duration } from 'aws-cdk-lib';
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
} from 'aws-cdk-lib/aws-apigateway';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { authorizerCacheTtlSeconds, gatewayResponses } from '../shared/http/gateway-responses';
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
      if (browserCallable(route) && stage.storefrontOrigins.length > 0) {
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

    for (const [type, response] of Object.entries(gatewayResponses)) {
      const headers: Record<string, string> = {};
      if (type === 'THROTTLED') headers['Retry-After'] = "'1'";
      if (stage.storefrontOrigins.length > 0) {
        // Browsers hide error bodies without CORS headers; these bodies carry only a request id.
        headers['Access-Control-Allow-Origin'] = 'method.request.header.Origin';
        headers.Vary = "'Origin'";
      }
      api.addGatewayResponse(`Response${type}`, {
        type: ResponseType.of(type),
        statusCode: String(response.status),
        templates: { 'application/json': JSON.stringify(response.body) },
        responseHeaders: headers,
      });
    }

    functions.get('webhooks').useAuthorizerCacheFlush(api, stage.name);

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

  /** https://{id}.execute-api.{region}.amazonaws.com/{stage}/ */
  get url(): string {
    return this.restApi.url;
  }

  urlFor(path: string): string {
    return this.restApi.urlForPath(path);
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

function browserCallable(route: Route): boolean {
  return route.key === 'publishable';
}

function unauthenticatedReason(route: Route): string {
  switch (route.fn) {
    case 'health':
      return 'GET /health is a liveness probe: no key, no I/O, no data (API.md §2.1).';
    case 'oauth-callback':
      return 'GET /v1/oauth/callback is where Clover redirects a merchant’s browser after install; it carries no API key. The function authenticates the request by exchanging the single-use OAuth code with Clover and checking client_id (API.md §2.2).';
    case 'webhooks':
      return 'POST /v1/webhooks/clover is called by Clover, which cannot hold our API keys; the function compares the X-Clover-Auth header with the app’s webhook code in constant time (API.md §2.2).';
    default:
      return `${route.method} ${route.path} is a route without a key in shared/routes.ts.`;
  }
}
