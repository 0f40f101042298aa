import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { stageConfig } from '../../infra/config';
import { wafRateLimit } from '../../infra/waf';
import { routes } from '../../shared/routes';
import { build, functionId, methods, resources, type Synth, synth } from './helpers';

const ORIGINS = 'https://shop.example.com, https://www.example.org';

const DOMAIN = {
  domainName: 'api.example.com',
  certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc-123',
};

let prod: Synth;
let unlimited: Synth;
let oneOrigin: Synth;
let domain: Synth;
beforeAll(() => {
  prod = synth({ stage: 'production', storefrontOrigins: ORIGINS });
  unlimited = synth({ merchantRateLimit: '0' });
  oneOrigin = synth({ storefrontOrigins: 'https://shop.example.com', tokensCors: 'true' });
  domain = synth({ stage: 'production', ...DOMAIN });
}, 90_000);

describe('production stage', () => {
  it('retains data, keys, secrets and logs, and protects the table from deletion', () => {
    const t = prod.template;
    t.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      DeletionProtectionEnabled: true,
      TableName: 'clover-payments-production',
    });
    for (const type of ['AWS::KMS::Key', 'AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup']) {
      for (const [id, r] of Object.entries(resources(t, type)))
        expect(r.DeletionPolicy, `${type} ${id}`).toBe('Retain');
    }
  });

  it('keeps logs a year and talks to Clover production (live keys)', () => {
    for (const g of Object.values(resources(prod.template, 'AWS::Logs::LogGroup'))) {
      expect(g.Properties!.RetentionInDays).toBe(365);
    }
    const fn = prod.template.toJSON().Resources[functionId(prod.template, 'charges')];
    expect(fn.Properties.Environment.Variables.CLOVER_ENVIRONMENT).toBe('production');
    expect(prod.template.toJSON().Outputs.AppSecretName.Value).toBe('clover-payments/production/app');
    expect(stageConfig(new App({ context: { stage: 'production' } }).node).keyMode).toBe('live');
    expect(stageConfig(new App({ context: { stage: 'sandbox' } }).node).keyMode).toBe('test');
  });
});

describe('CORS for storefront origins', () => {
  it('adds preflight only on the publishable-key routes, and not on POST /v1/tokens unless the stage opts in', () => {
    const browserPaths = (withTokens: boolean) =>
      [
        ...new Set(routes.filter((r) => r.key === 'publishable' && (withTokens || !r.cardData)).map((r) => r.path)),
      ].sort();
    const options = (t: Synth) => methods(t.template).filter((m) => m.httpMethod === 'OPTIONS');
    expect(
      options(prod)
        .map((m) => m.path)
        .sort(),
    ).toEqual(browserPaths(false));
    expect(options(prod).map((m) => m.path)).not.toContain('/v1/tokens');
    expect(
      options(oneOrigin)
        .map((m) => m.path)
        .sort(),
    ).toEqual(browserPaths(true));
    for (const m of options(prod)) expect(m.authorizationType).toBe('NONE');
    const json = JSON.stringify(resources(prod.template, 'AWS::ApiGateway::Method'));
    expect(json).toContain('https://shop.example.com');
    expect(json).toContain('https://www.example.org');
  });

  it('tells the functions behind those routes which origins to echo, and no other function', () => {
    const env = (t: Synth, name: string) =>
      t.template.toJSON().Resources[functionId(t.template, name)].Properties.Environment.Variables;
    for (const fn of ['checkout-config', 'checkout-sessions']) {
      expect(env(prod, fn).CORS_ALLOWED_ORIGINS).toBe('https://shop.example.com,https://www.example.org');
    }
    expect(env(prod, 'tokens').CORS_ALLOWED_ORIGINS).toBeUndefined();
    expect(env(oneOrigin, 'tokens').CORS_ALLOWED_ORIGINS).toBe('https://shop.example.com');
    expect(env(prod, 'charges').CORS_ALLOWED_ORIGINS).toBeUndefined();
  });

  it('never reflects the request Origin on Gateway Responses: one listed origin is named, several get none', () => {
    for (const t of [prod, oneOrigin]) {
      expect(JSON.stringify(resources(t.template, 'AWS::ApiGateway::GatewayResponse'))).not.toContain(
        'method.request.header.Origin',
      );
    }
    oneOrigin.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      ResponseParameters: Match.objectLike({
        'gatewayresponse.header.Access-Control-Allow-Origin': "'https://shop.example.com'",
        'gatewayresponse.header.Vary': "'Origin'",
      }),
    });
    for (const r of Object.values(resources(prod.template, 'AWS::ApiGateway::GatewayResponse'))) {
      expect(JSON.stringify(r.Properties!.ResponseParameters)).not.toContain('Access-Control-Allow-Origin');
    }
  });
});

describe('custom domain', () => {
  it('serves the API on the domain with the TLS 1.2 policy and turns the execute-api endpoint off', () => {
    domain.template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'api.example.com',
      RegionalCertificateArn: DOMAIN.certificateArn,
      SecurityPolicy: 'TLS_1_2',
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
    domain.template.hasResourceProperties('AWS::ApiGateway::RestApi', { DisableExecuteApiEndpoint: true });
    domain.template.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
    const outputs = domain.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.ApiUrl!.Value).toBe('https://api.example.com/');
    expect(outputs.OAuthLaunchUrl!.Value).toBe('https://api.example.com/v1/oauth/launch');
    expect(outputs.CustomDomainTarget).toBeDefined();
    const env =
      domain.template.toJSON().Resources[functionId(domain.template, 'oauth-callback')].Properties.Environment
        .Variables;
    expect(env.OAUTH_REDIRECT_URL).toBe('https://api.example.com/v1/oauth/callback');
  });

  it('leaves the execute-api endpoint on without one', () => {
    const api = Object.values(resources(prod.template, 'AWS::ApiGateway::RestApi'))[0]!;
    expect(api.Properties!.DisableExecuteApiEndpoint).toBeFalsy();
    prod.template.resourceCountIs('AWS::ApiGateway::DomainName', 0);
  });
});

describe('context validation', () => {
  it('refuses an unknown stage and an origin that is not an origin', () => {
    expect(() => stageConfig(new App({ context: { stage: 'prod' } }).node)).toThrow(/sandbox" or "production/);
    expect(() => stageConfig(new App({ context: { storefrontOrigins: 'https://shop.example.com/*' } }).node)).toThrow(
      /not an origin/,
    );
    expect(() => stageConfig(new App({ context: { merchantRateLimit: '-1' } }).node)).toThrow(/merchantRateLimit/);
    expect(() => stageConfig(new App({ context: { tokensCors: 'yes' } }).node)).toThrow(/tokensCors/);
    expect(() => stageConfig(new App({ context: { domainName: 'api.example.com' } }).node)).toThrow(/go together/);
    expect(() =>
      stageConfig(new App({ context: { domainName: 'API.example.com', certificateArn: DOMAIN.certificateArn } }).node),
    ).toThrow(/host name/);
    expect(() =>
      stageConfig(new App({ context: { domainName: 'api.example.com', certificateArn: 'arn:aws:iam::1:x' } }).node),
    ).toThrow(/ACM certificate/);
  });

  it('refuses rate limits WAF cannot take (10 to 2,000,000,000 requests per window)', () => {
    expect(() => build({ merchantRateLimit: '0.1' })).toThrow(/merchantRateLimit × 60: a WAF rate limit/);
    expect(() => build({ ipRateLimitPer5Min: '9' })).toThrow(/ipRateLimitPer5Min: a WAF rate limit/);
    expect(wafRateLimit(0.3 * 60, 'x')).toBe(18); // 17.999… in floating point; WAF wants an integer
    expect(wafRateLimit(10, 'x')).toBe(10);
  });

  it('merchantRateLimit=0 removes the per-key WAF rate rule', () => {
    const rules = (waf: typeof unlimited) =>
      (Object.values(waf.template.findResources('AWS::WAFv2::WebACL'))[0]!.Properties.Rules as { Name: string }[]).map(
        (r) => r.Name,
      );
    expect(rules(unlimited)).not.toContain('RatePerKey');
    expect(rules(unlimited)).toContain('RatePerIp');
  });
});
