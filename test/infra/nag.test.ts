import { App, Stack, Validations } from 'aws-cdk-lib';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { nagPacks, registerNagPacks } from '../../infra/nag';
import { build } from './helpers';

const PACK_PREFIXES = ['AwsSolutions-', 'PCI.DSS.321-', 'Serverless-'];

function findings(app: IConstruct): string[] {
  return nagPacks().flatMap((pack) =>
    pack
      .validateScope(app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) ${r.constructPath}`)),
  );
}

describe('cdk-nag: AwsSolutions, PCI DSS 3.2.1, Serverless', () => {
  it('registers exactly the three packs', () => {
    expect(nagPacks().map((p) => p.name)).toEqual(['AwsSolutions', 'PCI.DSS.321', 'Serverless']);
  });

  it.each([
    ['sandbox', {}],
    ['production with storefront CORS', { stage: 'production', storefrontOrigins: 'https://shop.example.com' }],
    ['without the per-key rate rule', { merchantRateLimit: 0 }],
  ])('leaves no unacknowledged finding (%s)', (_name, context) => {
    expect(findings(build(context).app)).toEqual([]);
  });

  it('acknowledges only rules of the three packs, each with a real reason', () => {
    const { app } = build();
    const acks: [string, string][] = [];
    for (const c of app.node.findAll()) {
      for (const entry of c.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          acks.push([id.replace(/^annotation::/i, ''), reason]);
        }
      }
    }
    expect(acks.length).toBeGreaterThan(0);
    for (const [id, reason] of acks) {
      expect(
        PACK_PREFIXES.some((p) => id.startsWith(p)),
        id,
      ).toBe(true);
      expect(reason.length, id).toBeGreaterThan(60);
    }
    const rules = [...new Set(acks.map(([id]) => id.replace(/\[.*$/, '')))].sort();
    expect(rules).toEqual([
      'AwsSolutions-APIG4',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM4',
      'AwsSolutions-IAM5',
      'AwsSolutions-SMG4',
      'AwsSolutions-SQS3',
      'PCI.DSS.321-APIGWCacheEnabledAndEncrypted',
      'PCI.DSS.321-APIGWSSLEnabled',
      'PCI.DSS.321-LambdaInsideVPC',
      'Serverless-APIGWXrayEnabled',
      'Serverless-EventBusDLQ',
      'Serverless-LambdaAsyncFailureDestination',
      'Serverless-LambdaDLQ',
      'Serverless-LambdaTracing',
      'Serverless-SNSRedrivePolicy',
      'Serverless-SQSRedrivePolicy',
    ]);
  });

  it('makes synthesis fail on an unacknowledged finding', () => {
    process.env.CDK_VALIDATION = 'false'; // the built-in CloudFormation schema check is not under test here
    const app = new App();
    registerNagPacks(app);
    new Topic(new Stack(app, 'Naive'), 'PlainTopic'); // no KMS, no SSL-only policy
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS2|AwsSolutions-SNS3|PCI\.DSS\.321-SNSEncryptedKMS/);
  });
});
