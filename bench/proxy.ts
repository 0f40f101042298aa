/**
 * A counting HTTP proxy for AWS JSON-protocol endpoints (DynamoDB, Secrets Manager): forwards
 * every request unchanged to the real endpoint and counts it by its `X-Amz-Target` operation.
 *
 * For DynamoDB it also asks for `ReturnConsumedCapacity: INDEXES` (DynamoDB Local does not check
 * SigV4 signatures, so the body may be changed) and adds up the capacity units the response
 * reports, table and indexes, so that the cost model uses the units DynamoDB itself computes
 * (item sizes, the 2× of transactions, index writes) rather than a guess per call.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export const DYNAMO_WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem']);
export const DYNAMO_READS = new Set(['GetItem', 'Query', 'TransactGetItems', 'BatchGetItem', 'Scan']);
const CAPACITY_OPS = new Set([...DYNAMO_WRITES, ...DYNAMO_READS]);

export interface Counts {
  /** Requests per operation name (`GetItem`, `GetSecretValue`, …). */
  readonly ops: Record<string, number>;
  readonly total: number;
  /** DynamoDB only: write calls (PutItem/UpdateItem/DeleteItem/TransactWriteItems/BatchWriteItem). */
  readonly writes: number;
  /** DynamoDB only: read calls (GetItem/Query/TransactGetItems/BatchGetItem/Scan). */
  readonly reads: number;
  /** Capacity units DynamoDB reported for the write calls (table + indexes). */
  readonly writeUnits: number;
  /** Capacity units DynamoDB reported for the read calls. */
  readonly readUnits: number;
  /** Capacity units spent on global secondary indexes (part of writeUnits/readUnits). */
  readonly indexUnits: number;
  /** Time spent waiting for the endpoint, summed over requests (ms). */
  readonly waitMs: number;
  /** One entry per request, in order: `Op` or, for DynamoDB, `Op units` (index units in brackets). */
  readonly log: string[];
}

export const emptyCounts = (): Counts => ({
  ops: {},
  total: 0,
  writes: 0,
  reads: 0,
  writeUnits: 0,
  readUnits: 0,
  indexUnits: 0,
  waitMs: 0,
  log: [],
});

/** b − a, operation by operation. */
export function diffCounts(a: Counts, b: Counts): Counts {
  const ops: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.ops)) {
    const d = v - (a.ops[k] ?? 0);
    if (d !== 0) ops[k] = d;
  }
  return {
    ops,
    total: b.total - a.total,
    writes: b.writes - a.writes,
    reads: b.reads - a.reads,
    writeUnits: round2(b.writeUnits - a.writeUnits),
    readUnits: round2(b.readUnits - a.readUnits),
    indexUnits: round2(b.indexUnits - a.indexUnits),
    waitMs: b.waitMs - a.waitMs,
    log: b.log.slice(a.log.length),
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export interface CountingProxy {
  readonly url: string;
  snapshot(): Counts;
  close(): Promise<void>;
}

interface Capacity {
  CapacityUnits?: number;
  GlobalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
  LocalSecondaryIndexes?: Record<string, { CapacityUnits?: number }>;
}

export async function startCountingProxy(opts: {
  target: string;
  service: 'dynamodb' | 'secretsmanager';
}): Promise<CountingProxy> {
  const target = new URL(opts.target);
  const c = {
    ops: {} as Record<string, number>,
    total: 0,
    writes: 0,
    reads: 0,
    writeUnits: 0,
    readUnits: 0,
    indexUnits: 0,
    waitMs: 0,
    log: [] as string[],
  };
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const started = performance.now();
      let body = Buffer.concat(chunks);
      const targetHeader = String(req.headers['x-amz-target'] ?? '');
      const op = targetHeader.slice(targetHeader.lastIndexOf('.') + 1) || '(none)';
      c.ops[op] = (c.ops[op] ?? 0) + 1;
      c.total++;
      const entry = c.log.push(op) - 1;
      const isWrite = opts.service === 'dynamodb' && DYNAMO_WRITES.has(op);
      const isRead = opts.service === 'dynamodb' && DYNAMO_READS.has(op);
      if (isWrite) c.writes++;
      if (isRead) c.reads++;
      let askedCapacity = false;
      if (opts.service === 'dynamodb' && CAPACITY_OPS.has(op)) {
        try {
          const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
          if (parsed.ReturnConsumedCapacity === undefined || parsed.ReturnConsumedCapacity === 'NONE') {
            parsed.ReturnConsumedCapacity = 'INDEXES';
            askedCapacity = true;
            body = Buffer.from(JSON.stringify(parsed));
          }
        } catch {
          // not JSON: forward as is
        }
      }
      // The Host header is kept as the client signed it (SigV4 covers it).
      const headers = { ...req.headers, 'content-length': String(body.length) };
      const upstream = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers, agent },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (d: Buffer) => out.push(d));
          up.on('end', () => {
            c.waitMs += performance.now() - started;
            let payload = Buffer.concat(out);
            if (askedCapacity && up.statusCode === 200) {
              try {
                const parsed = JSON.parse(payload.toString('utf8')) as { ConsumedCapacity?: Capacity | Capacity[] };
                const list = Array.isArray(parsed.ConsumedCapacity)
                  ? parsed.ConsumedCapacity
                  : parsed.ConsumedCapacity
                    ? [parsed.ConsumedCapacity]
                    : [];
                let callUnits = 0;
                let callIndex = 0;
                for (const cap of list) {
                  const units = cap.CapacityUnits ?? 0;
                  callUnits += units;
                  if (isWrite) c.writeUnits += units;
                  else c.readUnits += units;
                  for (const idx of [
                    ...Object.values(cap.GlobalSecondaryIndexes ?? {}),
                    ...Object.values(cap.LocalSecondaryIndexes ?? {}),
                  ]) {
                    c.indexUnits += idx.CapacityUnits ?? 0;
                    callIndex += idx.CapacityUnits ?? 0;
                  }
                }
                c.log[entry] = `${op} ${callUnits}${callIndex ? ` (index ${callIndex})` : ''}`;
                // Give the caller the answer it asked for: without the capacity it did not request.
                delete parsed.ConsumedCapacity;
                payload = Buffer.from(JSON.stringify(parsed));
              } catch {
                // leave the payload alone
              }
            }
            const h: http.OutgoingHttpHeaders = { ...up.headers, 'content-length': String(payload.length) };
            delete h['x-amz-crc32']; // the body may have changed; the SDK checks this CRC when present
            res.writeHead(up.statusCode ?? 502, h);
            res.end(payload);
          });
        },
      );
      upstream.on('error', () => {
        c.waitMs += performance.now() - started;
        res.destroy();
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    snapshot: () => ({ ...c, ops: { ...c.ops }, log: [...c.log] }),
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
