/**
 * The single DynamoDB table, built from shared/table.ts (the same definition the local platform
 * creates in DynamoDB Local). `aws_dynamodb.Table` (AWS::DynamoDB::Table), not TableV2: cdk-nag's
 * PITR rule (AwsSolutions-DDB3) only inspects AWS::DynamoDB::Table.
 */
import {
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { tableDefinition } from '../shared/table';
import type { StageConfig } from './config';

export class Data extends Construct {
  readonly table: Table;
  /** Exact index ARNs, so read grants never need `index/*`. */
  readonly indexArns: string[];

  constructor(scope: Construct, id: string, props: { stage: StageConfig; key: IKey }) {
    super(scope, id);
    const { stage, key } = props;

    this.table = new Table(this, 'Table', {
      tableName: stage.prefix,
      partitionKey: { name: tableDefinition.partitionKey, type: AttributeType.STRING },
      sortKey: { name: tableDefinition.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: key,
      timeToLiveAttribute: tableDefinition.ttlAttribute,
      stream: StreamViewType[tableDefinition.stream],
      deletionProtection: stage.deletionProtection,
      removalPolicy: stage.removalPolicy,
    });
    for (const gsi of tableDefinition.globalSecondaryIndexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: gsi.indexName,
        partitionKey: { name: gsi.partitionKey, type: AttributeType.STRING },
        sortKey: { name: gsi.sortKey, type: AttributeType.STRING },
        // As shared/table.ts says: the pending index is keys only (the reconciler reads each item).
        projectionType: ProjectionType[gsi.projection],
      });
    }
    this.indexArns = tableDefinition.globalSecondaryIndexes.map(
      (gsi) => `${this.table.tableArn}/index/${gsi.indexName}`,
    );
  }
}
