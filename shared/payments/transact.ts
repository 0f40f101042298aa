import { TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { dynamo } from '../aws';
import type { TransactItem } from '../idempotency';

export async function transact(items: TransactItem[]): Promise<void> {
  await dynamo.send(new TransactWriteCommand({ TransactItems: items }));
}
