import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { stageConfig } from '../../infra/config';
import { wafRateLimit } from '../../infra/waf';
import { routes } from '../../shared/routes';
import { build, functionId, methods, resources, type Synth, synth } from './helpers';

const ORIGINS = 'https://shop.example.com, https://www.example.org';

let prod: Synth;
let unlimited: Synth;
beforeAll(() => {
  prod = synth({ stage: 'production', storefrontOrigins: ORIGINS });
  unlimited = synth({ merchantRateLimit: '0' });
}, 60_000);

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
  it('adds preflight only on the publishable-key routes', () => {
    const publishablePaths = [...new Set(routes.filter((r) => r.key === 'publishable').map((r) => r.path))].sort();
    const options = methods(prod.template).filter((m) => m.httpMethod === 'OPTIONS');
    expect(options.map((m) => m.path).sort()).toEqual(publishablePaths);
    for (const m of options) expect(m.authorizationType).toBe('NONE');
    const json = JSON.stringify(resources(prod.template, 'AWS::ApiGateway::Method'));
    expect(json).toContain('https://shop.example.com');
    expect(json).toContain('https://www.example.org');
  });

  it('tells the functions behind those routes which origins to echo, and no other function', () => {
    const env = (name: string) =>
      prod.template.toJSON().Resources[functionId(prod.template, name)].Properties.Environment.Variables;
    for (const fn of ['checkout-config', 'tokens', 'checkout-sessions']) {
      expect(env(fn).CORS_ALLOWED_ORIGINS).toBe('https://shop.example.com,https://www.example.org');
    }
    expect(env('charges').CORS_ALLOWED_ORIGINS).toBeUndefined();
  });

  it('lets browsers read Gateway Response errors', () => {
    prod.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      ResponseParameters: { 'gatewayresponse.header.Access-Control-Allow-Origin': 'method.request.header.Origin' },
    });
  });
});

describe('context validation', () => {
  it('refuses an unknown stage and an origin that is not an origin', () => {
    expect(() => stageConfig(new App({ context: { stage: 'prod' } }).node)).toThrow(/sandbox" or "production/);
    expect(() => stageConfig(new App({ context: { storefrontOrigins: 'https://shop.example.com/*' } }).node)).toThrow(
      /not an origin/,
    );
    expect(() => stageConfig(new App({ context: { merchantRateLimit: '-1' } }).node)).toThrow(/merchantRateLimit/);
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
