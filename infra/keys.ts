/**
 * The customer-managed KMS keys. Two keys, split by who may use them:
 *
 * - `data`: the DynamoDB table and every Secrets Manager secret (app + per-merchant OAuth tokens).
 *   Only the functions' roles use it, through DynamoDB and Secrets Manager (kms:ViaService).
 * - `ops`: CloudWatch Logs (function, API access/execution and WAF logs) and the alarm topic. Its
 *   key policy lets the Logs service and CloudWatch alarms use it; no function role can.
 *
 * Both rotate yearly (KMS automatic rotation). Keys follow the stage's removal policy; a DESTROYed
 * key still waits its 7-day pending window before KMS deletes it.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { StageConfig } from './config';

export class Keys extends Construct {
  readonly data: Key;
  readonly ops: Key;

  constructor(scope: Construct, id: string, props: { stage: StageConfig }) {
    super(scope, id);
    const { stage } = props;
    const { region, account, partition } = Stack.of(this);

    this.data = new Key(this, 'Data', {
      alias: `alias/${stage.prefix}/data`,
      description: `Clover payments (${stage.name}): DynamoDB table and Secrets Manager secrets`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: stage.removalPolicy,
    });

    this.ops = new Key(this, 'Ops', {
      alias: `alias/${stage.prefix}/ops`,
      description: `Clover payments (${stage.name}): CloudWatch Logs and the alarm topic`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: stage.removalPolicy,
    });
    // CloudWatch Logs encrypts log groups of this account and region only.
    this.ops.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchLogs',
        principals: [new ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` },
        },
      }),
    );
    // CloudWatch alarms publish to the KMS-encrypted SNS topic (the statement AWS documents for
    // alarm topics; only principals the topic policy admits can publish through it).
    this.ops.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsToSns',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
  }
}
