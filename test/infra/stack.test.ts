import { readdirSync, readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { accessLogFields } from '../../infra/api';
import { RUNTIME } from '../../infra/house-function';
import { authorizerCacheTtlSeconds, gatewayResponses } from '../../shared/http/gateway-responses';
import { routes } from '../../shared/routes';
import { tableDefinition } from '../../shared/table';
import { flat, functionId, list, methods, refOf, resources, type Synth, synth } from './helpers';

let s: Synth;
beforeAll(() => {
  s = synth();
}, 60_000);

describe('functions', () => {
  it('has one function per folder under functions/, each arm64 on the chosen Node runtime', () => {
    const folders = readdirSync(new URL('../../functions', import.meta.url), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
    const fns = Object.values(resources(s.template, 'AWS::Lambda::Function'));
    const names = fns.map((f) => (f.Properties!.FunctionName as string).replace('clover-payments-sandbox-', '')).sort();
    expect(names).toEqual(folders);
    expect(RUNTIME.name).toBe('nodejs24.x');
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({ Runtime: RUNTIME.name, Architectures: ['arm64'], MemorySize: 512 });
      expect(fn.Properties!.TracingConfig).toBeUndefined();
    }
  });

  it('gives API functions 10 s (one 8 s Clover call), onboarding 26 s (three), all under API Gateway’s 29 s', () => {
    const timeout = (name: string) => s.template.toJSON().Resources[functionId(s.template, name)].Properties.Timeout;
    for (const name of ['charges', 'refunds', 'checkout-sessions', 'tokens', 'webhooks', 'checkout-config']) {
      expect(timeout(name)).toBe(10);
    }
    expect(timeout('oauth-callback')).toBe(26);
    for (const route of routes) expect(timeout(route.fn)).toBeLessThan(29);
  });

  it('never logs events, on tokens above all, and sets the Clover timeout where Clover is called', () => {
    for (const fn of Object.values(resources(s.template, 'AWS::Lambda::Function'))) {
      const env = (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.POWERTOOLS_LOGGER_LOG_EVENT).toBe('false');
      expect(env.POWERTOOLS_TRACER_CAPTURE_RESPONSE).toBe('false');
      expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe('CloverPayments');
    }
    const tokens = s.template.toJSON().Resources[functionId(s.template, 'tokens')].Properties.Environment.Variables;
    expect(tokens).toMatchObject({
      POWERTOOLS_LOGGER_LOG_EVENT: 'false',
      CLOVER_TIMEOUT_MS: '8000',
      CLOVER_ENVIRONMENT: 'sandbox',
    });
    // tokens learns Clover's hosts from CLOVER_ENVIRONMENT, never from a secret.
    expect(Object.keys(tokens).filter((k) => k.includes('SECRET'))).toEqual([]);
  });

  it('writes every function’s logs to its own KMS-encrypted log group with a retention', () => {
    const groups = resources(s.template, 'AWS::Logs::LogGroup');
    for (const fn of Object.values(resources(s.template, 'AWS::Lambda::Function'))) {
      const group = groups[refOf((fn.Properties!.LoggingConfig as { LogGroup: unknown }).LogGroup)!];
      expect(group?.Properties).toMatchObject({
        LogGroupName: `/aws/lambda/${fn.Properties!.FunctionName as string}`,
        RetentionInDays: 30,
      });
      expect(group?.Properties?.KmsKeyId).toBeDefined();
    }
    for (const group of Object.values(groups)) {
      expect(group.Properties!.KmsKeyId).toBeDefined();
      expect(group.Properties!.RetentionInDays).toBeGreaterThan(0);
    }
  });
});

describe('data and keys', () => {
  it('builds the table from shared/table.ts: on-demand, PITR, CMK, TTL, GSIs', () => {
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: {
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }),
      },
      TimeToLiveSpecification: { AttributeName: tableDefinition.ttlAttribute, Enabled: true },
      KeySchema: [
        { AttributeName: tableDefinition.partitionKey, KeyType: 'HASH' },
        { AttributeName: tableDefinition.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: tableDefinition.globalSecondaryIndexes.map((g) =>
        Match.objectLike({ IndexName: g.indexName }),
      ),
    });
    const table = Object.values(resources(s.template, 'AWS::DynamoDB::Table'))[0]!;
    const keyId = refOf((table.Properties!.SSESpecification as { KMSMasterKeyId: unknown }).KMSMasterKeyId)!;
    expect(s.template.toJSON().Resources[keyId].Type).toBe('AWS::KMS::Key');
  });

  it('rotates every KMS key', () => {
    const keys = Object.values(resources(s.template, 'AWS::KMS::Key'));
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(key.Properties!.EnableKeyRotation).toBe(true);
  });

  it('encrypts the app secret with the data key under the documented name', () => {
    s.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'clover-payments/sandbox/app',
      KmsKeyId: Match.objectLike({ 'Fn::GetAtt': Match.anyValue() }),
    });
  });
});

describe('API', () => {
  it('is a regional REST API whose methods are exactly the route table', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    const got = methods(s.template)
      .map((m) => `${m.httpMethod} ${m.path}`)
      .sort();
    expect(got).toEqual(routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('puts the authorizer on every /v1 route except onboarding and webhooks, and none on /health', () => {
    const authorizers = resources(s.template, 'AWS::ApiGateway::Authorizer');
    const [authorizerId] = Object.keys(authorizers);
    expect(authorizers[authorizerId!]!.Properties).toMatchObject({
      Type: 'REQUEST',
      IdentitySource: 'method.request.header.Authorization',
      AuthorizerResultTtlInSeconds: authorizerCacheTtlSeconds,
    });
    const open = new Set(['/health', '/v1/oauth/launch', '/v1/oauth/callback', '/v1/webhooks/clover']);
    for (const m of methods(s.template)) {
      if (open.has(m.path)) {
        expect(m, `${m.httpMethod} ${m.path}`).toMatchObject({ authorizationType: 'NONE', apiKeyRequired: false });
        expect(m.authorizerId).toBeUndefined();
      } else {
        expect(m.path.startsWith('/v1/')).toBe(true);
        expect(m, `${m.httpMethod} ${m.path}`).toMatchObject({
          authorizationType: 'CUSTOM',
          authorizerId,
          apiKeyRequired: false,
        });
      }
    }
  });

  it('installs the Gateway Responses from shared/http/gateway-responses.ts', () => {
    for (const [type, r] of Object.entries(gatewayResponses)) {
      s.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: String(r.status),
        ResponseTemplates: { 'application/json': JSON.stringify(r.body) },
      });
    }
    s.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      ResponseParameters: Match.objectLike({ 'gatewayresponse.header.Retry-After': "'1'" }),
    });
  });

  it('puts Cache-Control: no-store and nosniff on every Gateway Response, DEFAULT_4XX included, and no CORS without origins', () => {
    const all = Object.values(resources(s.template, 'AWS::ApiGateway::GatewayResponse'));
    expect(all.map((r) => r.Properties!.ResponseType).sort()).toEqual(
      [...Object.keys(gatewayResponses), 'DEFAULT_4XX'].sort(),
    );
    for (const r of all) {
      expect(r.Properties!.ResponseParameters, String(r.Properties!.ResponseType)).toMatchObject({
        'gatewayresponse.header.Cache-Control': "'no-store'",
        'gatewayresponse.header.X-Content-Type-Options': "'nosniff'",
      });
      expect(JSON.stringify(r.Properties!.ResponseParameters)).not.toContain('Access-Control');
    }
  });

  it('tells the onboarding function its callback URL (the redirect_uri of the launch flow)', () => {
    const env =
      s.template.toJSON().Resources[functionId(s.template, 'oauth-callback')].Properties.Environment.Variables;
    expect(flat(env.OAUTH_REDIRECT_URL)).toMatch(
      /^https:\/\/<\w+>\.execute-api\.<AWS::Region>\.<AWS::URLSuffix>\/sandbox\/v1\/oauth\/callback$/,
    );
  });

  it('validates parameters and bodies on every method', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::RequestValidator', {
      ValidateRequestBody: true,
      ValidateRequestParameters: true,
    });
    for (const m of Object.values(resources(s.template, 'AWS::ApiGateway::Method'))) {
      expect(m.Properties!.RequestValidatorId).toBeDefined();
    }
  });

  it('logs executions at ERROR with data trace off, throttles the stage and caches nothing', () => {
    s.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'sandbox',
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
          CachingEnabled: false,
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
        }),
      ],
    });
    const stage = Object.values(resources(s.template, 'AWS::ApiGateway::Stage'))[0]!;
    expect(stage.Properties!.CacheClusterEnabled).toBeUndefined();
  });

  it('writes JSON access logs of $context fields only (no bodies, headers or keys) to a KMS log group', () => {
    const stage = Object.values(resources(s.template, 'AWS::ApiGateway::Stage'))[0]!;
    const setting = stage.Properties!.AccessLogSetting as { DestinationArn: unknown; Format: string };
    // The ARN as API Gateway stores it, without the `:*` of the group's Arn attribute (no drift).
    const destination = flat(setting.DestinationArn);
    expect(destination).toMatch(/^arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<[^>]+>$/);
    const group = resources(s.template, 'AWS::Logs::LogGroup')[/<([^>]+)>$/.exec(destination)![1]!]!;
    expect(group.Properties!.KmsKeyId).toBeDefined();
    const format = JSON.parse(setting.Format) as Record<string, string>;
    expect(format).toEqual(accessLogFields);
    for (const v of Object.values(format)) {
      expect(v).toMatch(/^\$context\.[A-Za-z.]+$/);
      expect(v).not.toMatch(/apiKey$|requestOverride|responseOverride|header/i);
    }
  });

  it('limits each API key with a WAF rate rule on the Authorization header, and needs no usage plan', () => {
    s.template.resourceCountIs('AWS::ApiGateway::UsagePlan', 0);
    for (const m of methods(s.template)) expect(m.apiKeyRequired ?? false).toBe(false);
    s.template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([
        Match.objectLike({
          Name: 'RatePerKey',
          // The whole statement, in CloudFormation's spelling: keys CDK does not type (SingleHeader)
          // are passed through as written, so a lower-case `name` would reach CloudFormation.
          Statement: {
            RateBasedStatement: Match.exact({
              Limit: 16 * 60,
              EvaluationWindowSec: 60,
              AggregateKeyType: 'CUSTOM_KEYS',
              CustomKeys: [{ Header: { Name: 'authorization', TextTransformations: [{ Priority: 0, Type: 'NONE' }] } }],
              ScopeDownStatement: {
                SizeConstraintStatement: {
                  FieldToMatch: { SingleHeader: { Name: 'authorization' } },
                  ComparisonOperator: 'GT',
                  Size: 0,
                  TextTransformations: [{ Priority: 0, Type: 'NONE' }],
                },
              },
            }),
          },
        }),
      ]),
    });
  });

  it('has no CORS unless storefront origins are configured', () => {
    expect(methods(s.template).filter((m) => m.httpMethod === 'OPTIONS')).toEqual([]);
  });
});

describe('WAF', () => {
  it('associates a web ACL with the stage: managed common + bad inputs, rate per IP, 16 KiB body limit', () => {
    const assoc = Object.values(resources(s.template, 'AWS::WAFv2::WebACLAssociation'))[0]!;
    const stageId = Object.keys(resources(s.template, 'AWS::ApiGateway::Stage'))[0]!;
    expect(flat(assoc.Properties!.ResourceArn)).toContain(`/stages/<${stageId}>`);
    const acl = Object.values(resources(s.template, 'AWS::WAFv2::WebACL'))[0]!;
    expect(acl.Properties!.Scope).toBe('REGIONAL');
    const rules = acl.Properties!.Rules as { Name: string; Statement: Record<string, Record<string, unknown>> }[];
    const managed = rules.map((r) => r.Statement.ManagedRuleGroupStatement?.Name).filter(Boolean);
    expect(managed).toEqual(['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet']);
    expect(rules.find((r) => r.Statement.RateBasedStatement)?.Statement.RateBasedStatement).toMatchObject({
      AggregateKeyType: 'IP',
    });
    expect(rules.find((r) => r.Statement.SizeConstraintStatement)?.Statement.SizeConstraintStatement).toMatchObject({
      ComparisonOperator: 'GT',
      Size: 16 * 1024,
      FieldToMatch: { Body: { OversizeHandling: 'MATCH' } },
    });
  });

  it('logs to an encrypted aws-waf-logs-* group with keys and webhook codes redacted', () => {
    const logging = Object.values(resources(s.template, 'AWS::WAFv2::LoggingConfiguration'))[0]!;
    const destination = flat(list(logging.Properties!.LogDestinationConfigs)[0]);
    const groupId = /log-group:<([^>]+)>$/.exec(destination)?.[1];
    const group = resources(s.template, 'AWS::Logs::LogGroup')[groupId!]!;
    expect(group.Properties!.LogGroupName).toMatch(/^aws-waf-logs-/);
    expect(group.Properties!.KmsKeyId).toBeDefined();
    expect(logging.Properties!.RedactedFields).toEqual(
      expect.arrayContaining([
        { SingleHeader: { Name: 'authorization' } },
        { SingleHeader: { Name: 'x-clover-auth' } },
      ]),
    );
  });
});

describe('schedules, monitoring, outputs', () => {
  it('runs token-refresher every 5 minutes and reconciler every minute', () => {
    for (const [name, rate] of [
      ['token-refresher', 'rate(5 minutes)'],
      ['reconciler', 'rate(1 minute)'],
    ] as const) {
      s.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: rate,
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [functionId(s.template, name), 'Arn'] } })],
      });
    }
  });

  it('sends every alarm to a KMS-encrypted, SSL-only topic with an e-mail subscription from AlarmEmail', () => {
    const topics = resources(s.template, 'AWS::SNS::Topic');
    const [topicId] = Object.keys(topics);
    expect(topics[topicId!]!.Properties!.KmsMasterKeyId).toBeDefined();
    s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' } });
    const alarms = Object.values(resources(s.template, 'AWS::CloudWatch::Alarm'));
    const names = alarms.map((a) => (a.Properties!.AlarmName as string).replace('clover-payments-sandbox-', '')).sort();
    expect(names).toEqual([
      'Api5xxRate',
      'ApiThrottled',
      'AuthFailures',
      'AwsAccessDenied',
      'CloverErrorRate',
      'DeclineRate',
      'EventPublisherIteratorAge',
      'EventStreamDlqMessages',
      'LambdaThrottles',
      'MerchantMismatch',
      'NeedsAttention',
      'PendingChargesOld',
      'ScheduledJobErrors',
      'TokenRefreshFailures',
      'UninstallFollowUpsPending',
      'WafBlocks',
      'WebhookAuthFailures',
      'WebhookDeliveriesFailed',
    ]);
    for (const a of alarms) expect(a.Properties!.AlarmActions).toEqual([{ Ref: topicId }]);
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('alarms on the custom metrics the functions emit, in the CloverPayments namespace', () => {
    const json = JSON.stringify(resources(s.template, 'AWS::CloudWatch::Alarm'));
    for (const metric of [
      'CloverErrors',
      'OldestPendingChargeAgeSeconds',
      'TokenRefreshFailures',
      'ApiThrottledRequests',
      'AwsAccessDenied',
      'ApiUnauthorized',
      'ApiForbidden',
      'WebhookAuthFailures',
      'MerchantMismatch',
      'UninstallFollowUpsPending',
      'CardDeclines',
      'BlockedRequests',
    ]) {
      expect(json).toContain(`"MetricName":"${metric}"`);
    }
    expect(json).toContain('"Namespace":"CloverPayments"');
    expect(json).toContain('"Namespace":"AWS/WAFV2"');
  });

  it('alarms on the security signals: 401/403 spikes, webhook auth failures, WAF blocks, decline rate, takeover attempts, stuck uninstalls', () => {
    const names = Object.values(resources(s.template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties!.AlarmName);
    for (const name of [
      'AuthFailures',
      'WebhookAuthFailures',
      'WafBlocks',
      'DeclineRate',
      'MerchantMismatch',
      'UninstallFollowUpsPending',
    ]) {
      expect(names).toContain(`clover-payments-sandbox-${name}`);
    }
    // 401 and 403 are counted from the access log.
    const patterns = Object.values(resources(s.template, 'AWS::Logs::MetricFilter')).map(
      (f) => f.Properties!.FilterPattern,
    );
    expect(patterns).toEqual(expect.arrayContaining(['{ $.status = "401" }', '{ $.status = "403" }']));
  });

  it('counts AccessDeniedException lines in every function’s log group and alarms on the first one', () => {
    type Transformation = { MetricNamespace: string; MetricName: string; MetricValue: string; Dimensions?: unknown };
    const filters = Object.values(resources(s.template, 'AWS::Logs::MetricFilter')).filter(
      (f) => (f.Properties!.MetricTransformations as Transformation[])[0]!.MetricName === 'AwsAccessDenied',
    );
    const functionGroups = Object.values(resources(s.template, 'AWS::Lambda::Function')).map((fn) =>
      refOf((fn.Properties!.LoggingConfig as { LogGroup: unknown }).LogGroup),
    );
    expect(functionGroups.length).toBeGreaterThan(0);
    expect(filters.map((f) => refOf(f.Properties!.LogGroupName)).sort()).toEqual(functionGroups.sort());
    for (const f of filters) {
      expect(f.Properties!.FilterPattern).toBe('"AccessDeniedException"');
      // No dimension: one metric (and one alarm) for all functions; the log line names the function.
      expect(f.Properties!.MetricTransformations).toEqual([
        { MetricNamespace: 'CloverPayments', MetricName: 'AwsAccessDenied', MetricValue: '1' },
      ]);
    }
    const topicId = Object.keys(resources(s.template, 'AWS::SNS::Topic'))[0]!;
    const alarm = Object.values(resources(s.template, 'AWS::CloudWatch::Alarm')).find(
      (a) => a.Properties!.AlarmName === 'clover-payments-sandbox-AwsAccessDenied',
    );
    expect(alarm?.Properties).toMatchObject({
      Namespace: 'CloverPayments',
      MetricName: 'AwsAccessDenied',
      Statistic: 'Sum',
      Period: 300,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: topicId }],
      OKActions: [{ Ref: topicId }],
    });
    expect(alarm!.Properties!.Dimensions).toBeUndefined();
  });

  it('points every alarm at its runbook section in docs/operations.md', () => {
    const runbook = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const a of Object.values(resources(s.template, 'AWS::CloudWatch::Alarm'))) {
      const anchor = /docs\/operations\.md#(\S+)$/.exec(a.Properties!.AlarmDescription as string)?.[1];
      expect(anchor && anchors.has(anchor), `${a.Properties!.AlarmName as string} → #${anchor}`).toBe(true);
    }
  });

  it('outputs the URLs Clover needs and the app secret name', () => {
    const outputs = s.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual([
      'ApiUrl',
      'AppSecretName',
      'EventBusName',
      'OAuthLaunchUrl',
      'OAuthRedirectUrl',
      'OperatorPolicyArn',
      'RestApiId',
      'StageName',
      'WebhookUrl',
    ]);
    expect(flat(outputs.OAuthRedirectUrl!.Value)).toMatch(/\/v1\/oauth\/callback$/);
    expect(flat(outputs.OAuthLaunchUrl!.Value)).toMatch(/\/v1\/oauth\/launch$/);
    expect(outputs.StageName!.Value).toBe('sandbox');
    expect(flat(outputs.WebhookUrl!.Value)).toMatch(/\/v1\/webhooks\/clover$/);
    expect(flat(outputs.ApiUrl!.Value)).toMatch(/^https:\/\/.*\/$/);
    expect(outputs.AppSecretName!.Value).toBe('clover-payments/sandbox/app');
  });

  it('keeps sandbox data removable (production is covered in stages.test.ts)', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });
});
