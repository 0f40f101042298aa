/**
 * The customer-managed KMS keys. Two keys, split by who may use them:
 *
 * - `data`: the DynamoDB table and every Secrets Manager secret (app + per-merchant OAuth tokens).
 *   Its key policy separates administration from use (PCI DSS 3.6 / NIST AC-5):
 *   - `KeyAdministration`: the account's IAM principals may manage the key (policy, rotation,
 *     aliases, tags, deletion) but not encrypt or decrypt with it, nor grant themselves that;
 *   - `UseThroughDynamoDbAndSecretsManager`: they may use it only through DynamoDB and Secrets
 *     Manager (kms:ViaService, kms:CallerAccount), never directly — the functions' roles, and
 *     whoever deploys or fills in the app secret, with their own IAM permissions on top;
 *   - `GrantsForDynamoDb`: the grants DynamoDB makes for the table (kms:GrantIsForAWSResource);
 *   - `DynamoDbReadsKeyMetadata`: DynamoDB's service principal may describe the key (as its docs ask).
 *   No statement gives `kms:*` to anyone.
 * - `ops`: CloudWatch Logs (function, API access/execution and WAF logs) and the alarm topic. Its
 *   key policy lets the Logs service and CloudWatch alarms of this account use it; no function role can.
 *
 * Both rotate yearly (KMS automatic rotation). Keys follow the stage's removal policy; a DESTROYed
 * key still waits its 7-day pending window before KMS deletes it.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { AccountRootPrincipal, PolicyDocument, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { StageConfig } from './config';

/**
 * What the data key's administrators may do: manage, rotate, tag, schedule deletion — no
 * cryptographic operation and no CreateGrant (a grant would let an administrator decrypt).
 */
export const DATA_KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListAliases',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
];

export class Keys extends Construct {
  readonly data: Key;
  readonly ops: Key;

  constructor(scope: Construct, id: string, props: { stage: StageConfig }) {
    super(scope, id);
    const { stage } = props;
    const { region, account, partition } = Stack.of(this);

    const viaServices = [`dynamodb.${region}.amazonaws.com`, `secretsmanager.${region}.amazonaws.com`];
    this.data = new Key(this, 'Data', {
      alias: `alias/${stage.prefix}/data`,
      description: `Clover payments (${stage.name}): DynamoDB table and Secrets Manager secrets`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(7),
      removalPolicy: stage.removalPolicy,
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'KeyAdministration',
            principals: [new AccountRootPrincipal()],
            actions: DATA_KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
          new PolicyStatement({
            sid: 'UseThroughDynamoDbAndSecretsManager',
            principals: [new AccountRootPrincipal()],
            actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
            resources: ['*'],
            conditions: { StringEquals: { 'kms:ViaService': viaServices, 'kms:CallerAccount': account } },
          }),
          new PolicyStatement({
            sid: 'GrantsForDynamoDb',
            principals: [new AccountRootPrincipal()],
            actions: ['kms:CreateGrant'],
            resources: ['*'],
            conditions: {
              StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com`, 'kms:CallerAccount': account },
              Bool: { 'kms:GrantIsForAWSResource': 'true' },
            },
          }),
          new PolicyStatement({
            sid: 'DynamoDbReadsKeyMetadata',
            principals: [new ServicePrincipal('dynamodb.amazonaws.com')],
            actions: ['kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:ListResourceTags'],
            resources: ['*'],
            conditions: { StringEquals: { 'aws:SourceAccount': account } },
          }),
        ],
      }),
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
    // alarm topics), for this account's alarms only: without aws:SourceAccount/SourceArn any
    // account's alarms could use the key through CloudWatch (the confused-deputy problem).
    this.ops.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsToSns',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: { 'aws:SourceAccount': account },
          ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
        },
      }),
    );
  }
}
