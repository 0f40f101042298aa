/**
 * What an operator needs to run the ops tools (`npm run keys`: create, list and revoke API keys,
 * write their audit records, flush the authorizer cache so a revoked key stops at once, and read
 * the stack's outputs to find that cache) — and nothing more: no Secrets Manager, no payment
 * records beyond the key and merchant items the tool reads and writes.
 *
 * A customer-managed policy named `<prefix>-operator`, attached to no one: attach it to the role
 * or group your operators use (docs/operations.md). The local platform gives its `ops` profile
 * exactly this policy, so the tools are tried locally with the permissions they will have.
 */
import { Stack } from 'aws-cdk-lib';
import type { IRestApi } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { leadingKeys } from '../shared/store/keys';
import type { StageConfig } from './config';
import type { Data } from './data';

export class Operators extends Construct {
  readonly policy: ManagedPolicy;

  constructor(
    scope: Construct,
    id: string,
    props: { stage: StageConfig; data: Data; api: IRestApi; stageName: string },
  ) {
    super(scope, id);
    const { partition, region } = Stack.of(this);
    const { table } = props.data;
    const key = table.encryptionKey;
    if (!key) throw new Error('the table must use a customer-managed key');
    this.policy = new ManagedPolicy(this, 'Policy', {
      managedPolicyName: `${props.stage.prefix}-operator`,
      description: `Clover payments (${props.stage.name}): operators' tools (npm run keys)`,
      statements: [
        new PolicyStatement({
          sid: 'ManageApiKeys',
          // Key items are written in one transaction with the merchant's key list and an audit
          // record; merchants are read. Only key and merchant partitions: no scan, no other item kind.
          actions: [
            'dynamodb:GetItem',
            'dynamodb:Query',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:ConditionCheckItem',
          ],
          resources: [table.tableArn],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [leadingKeys.apiKeys, leadingKeys.merchants] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        }),
        new PolicyStatement({
          sid: 'DataKeyViaDynamodb',
          actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${region}.amazonaws.com` } },
        }),
        new PolicyStatement({
          sid: 'ReadStackOutputs',
          // The REST API id and stage of the cache to flush (npm run keys -- --stage <stage>).
          actions: ['cloudformation:DescribeStacks'],
          resources: [Stack.of(this).stackId],
        }),
        new PolicyStatement({
          sid: 'FlushAuthorizerCache',
          actions: ['apigateway:DELETE'],
          resources: [
            `arn:${partition}:apigateway:${region}::/restapis/${props.api.restApiId}/stages/${props.stageName}/cache/authorizers`,
          ],
        }),
      ],
    });
  }
}
