/**
 * Lambda's event source mappings for DynamoDB Streams, locally: the platform polls DynamoDB
 * Local's stream of the table (as Lambda's poller does, with each function's own role: every read
 * is checked against that function's policy) and invokes each consumer with the records that
 * match its filter patterns (from the template's AWS::Lambda::EventSourceMapping), in order, per
 * shard. A batch the function fails is retried (MaximumRetryAttempts), then written to the
 * dead-letter file, as the on-failure destination would receive it. Positions are checkpointed in
 * $DATA_DIR/stream-checkpoints.json after each successful batch, so a platform restart resumes
 * where it stopped: a crash between a change and its processing loses nothing (records are kept
 * 24 h by DynamoDB Local as by DynamoDB).
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { InvokeResult } from './lambda-runtime';

export interface StreamConsumer {
  /** The house name of the function. */
  readonly fn: string;
  readonly filters: readonly unknown[];
  readonly batchSize: number;
  readonly retryAttempts: number;
}

export interface StreamPollerOptions {
  /** DynamoDB Local itself (the poller is the platform, not a caller of the IAM endpoint). */
  backendUrl: string;
  tableName: string;
  consumers: readonly StreamConsumer[];
  invoke: (fn: string, event: unknown) => Promise<InvokeResult>;
  /** The function's role may read the stream (null), or why not. */
  authorize: (fn: string, action: string, streamArn: string) => string | null;
  checkpointFile: string;
  deadLetterFile: string;
  region?: string;
  intervalMs?: number;
  log?: (line: string) => void;
}

type Json = Record<string, unknown>;
interface StreamRecord {
  eventID: string;
  eventName: string;
  dynamodb: { SequenceNumber: string; Keys?: Json; NewImage?: Json; OldImage?: Json; [k: string]: unknown };
  [k: string]: unknown;
}
interface Shard {
  ShardId: string;
  ParentShardId?: string;
  SequenceNumberRange?: { StartingSequenceNumber?: string; EndingSequenceNumber?: string };
}

/** Lambda event filtering, for the pattern forms the stack uses: exact values, `{prefix}`, nesting. */
export function matchesPattern(pattern: unknown, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((p) => {
      if (p !== null && typeof p === 'object' && 'prefix' in (p as Json)) {
        return typeof value === 'string' && value.startsWith(String((p as Json).prefix));
      }
      return p === value;
    });
  }
  if (pattern !== null && typeof pattern === 'object') {
    if (value === null || typeof value !== 'object') return false;
    return Object.entries(pattern as Json).every(([k, p]) => matchesPattern(p, (value as Json)[k]));
  }
  return pattern === value;
}

export const matchesAny = (filters: readonly unknown[], record: unknown): boolean =>
  filters.length === 0 || filters.some((f) => matchesPattern(f, record));

export class StreamPoller {
  private checkpoints: Record<string, { seq?: string; done?: boolean }> = {};
  /** Open iterators, kept between passes (GetShardIterator once, not every pass: DynamoDB Local is one JVM shared with the functions). */
  private readonly iterators = new Map<string, string>();
  /** The stream and its shards, described at most once a second. */
  private described: { at: number; localArn: string; shards: Shard[] } | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private readonly log: (line: string) => void;
  private readonly region: string;
  /** Records handed to functions so far (tests, the bench). */
  delivered = 0;

  constructor(private readonly opts: StreamPollerOptions) {
    this.log = opts.log ?? (() => {});
    this.region = opts.region ?? 'us-east-1';
    if (existsSync(opts.checkpointFile)) this.checkpoints = JSON.parse(readFileSync(opts.checkpointFile, 'utf8'));
  }

  /** Starts polling (again, after `stop`: from the checkpoints, as a restarted poller would). */
  start(): void {
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        let busy = false;
        try {
          busy = await this.pollOnce();
        } catch (e) {
          // An expired iterator or DynamoDB Local restarting: start again from the checkpoints.
          this.iterators.clear();
          this.described = null;
          this.log(`stream poll failed: ${(e as Error).message}`);
        }
        if (!busy && !this.stopped) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, this.opts.intervalMs ?? 200);
            this.wake = () => {
              clearTimeout(t);
              r();
            };
          });
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.iterators.clear();
    this.described = null;
    this.wake?.();
    await this.loop;
  }

  /** One pass over every shard for every consumer; true when records were processed. */
  async pollOnce(): Promise<boolean> {
    if (!this.described || Date.now() - this.described.at > 1000) {
      const table = await this.call<{ Table: { LatestStreamArn?: string } }>('DynamoDB_20120810.DescribeTable', {
        TableName: this.opts.tableName,
      });
      const arn = table.Table.LatestStreamArn;
      if (!arn) return false;
      const desc = await this.call<{ StreamDescription: { Shards: Shard[] } }>(
        'DynamoDBStreams_20120810.DescribeStream',
        { StreamArn: arn },
      );
      this.described = { at: Date.now(), localArn: arn, shards: desc.StreamDescription.Shards };
    }
    const { localArn, shards } = this.described;
    const streamArn = localArn.replace(':ddblocal:', `:${this.region}:`);
    const ids = new Set(shards.map((s) => s.ShardId));
    let busy = false;
    for (const c of this.opts.consumers) {
      for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetShardIterator', 'dynamodb:GetRecords']) {
        const denied = this.opts.authorize(c.fn, action, streamArn);
        if (denied) {
          this.log(`${c.fn}: ${denied}`);
          return false;
        }
      }
      for (const shard of shards) {
        const key = `${c.fn}|${localArn}|${shard.ShardId}`;
        if (this.checkpoints[key]?.done) continue;
        // A child shard waits until its parent is read to the end (order per item).
        if (
          shard.ParentShardId &&
          ids.has(shard.ParentShardId) &&
          !this.checkpoints[`${c.fn}|${localArn}|${shard.ParentShardId}`]?.done
        ) {
          continue;
        }
        if (await this.drainShard(c, localArn, streamArn, shard, key)) busy = true;
      }
    }
    return busy;
  }

  private async drainShard(
    c: StreamConsumer,
    localArn: string,
    streamArn: string,
    shard: Shard,
    key: string,
  ): Promise<boolean> {
    const cp = this.checkpoints[key] ?? {};
    let iterator = this.iterators.get(key);
    this.iterators.delete(key);
    if (!iterator) {
      const it = await this.call<{ ShardIterator?: string }>('DynamoDBStreams_20120810.GetShardIterator', {
        StreamArn: localArn,
        ShardId: shard.ShardId,
        ShardIteratorType: cp.seq ? 'AFTER_SEQUENCE_NUMBER' : 'TRIM_HORIZON',
        ...(cp.seq ? { SequenceNumber: cp.seq } : {}),
      });
      iterator = it.ShardIterator;
    }
    let busy = false;
    while (iterator && !this.stopped) {
      const r = await this.call<{ Records: StreamRecord[]; NextShardIterator?: string }>(
        'DynamoDBStreams_20120810.GetRecords',
        { ShardIterator: iterator, Limit: 1000 },
      );
      const records = r.Records ?? [];
      for (let i = 0; i < records.length; i += c.batchSize) {
        const batch = records.slice(i, i + c.batchSize);
        const matching = batch.filter((rec) => matchesAny(c.filters, rec));
        if (matching.length > 0) {
          await this.invokeWithRetries(c, streamArn, matching);
          busy = true;
        }
        this.checkpoints[key] = { seq: batch.at(-1)!.dynamodb.SequenceNumber };
        this.save();
      }
      if (!r.NextShardIterator) {
        this.checkpoints[key] = { ...this.checkpoints[key], done: true };
        this.save();
        break;
      }
      iterator = r.NextShardIterator;
      // Caught up: keep the iterator for the next pass (a failed or stopped batch drops it, and the
      // next pass starts again from the checkpoint).
      if (records.length === 0) {
        this.iterators.set(key, iterator);
        break;
      }
    }
    return busy;
  }

  private async invokeWithRetries(c: StreamConsumer, streamArn: string, records: StreamRecord[]): Promise<void> {
    const event = {
      Records: records.map((r) => ({ ...r, awsRegion: this.region, eventSourceARN: streamArn })),
    };
    for (let attempt = 0; attempt <= c.retryAttempts && !this.stopped; attempt++) {
      const r = await this.opts.invoke(c.fn, event);
      if (r.ok) {
        this.delivered += records.length;
        return;
      }
      this.log(
        `${c.fn} failed a stream batch of ${records.length} (attempt ${attempt + 1}): ${r.errorType}: ${r.errorMessage}`,
      );
      await new Promise((res) => setTimeout(res, Math.min(5000, 100 * 2 ** attempt)));
    }
    if (this.stopped) throw new Error('stopped');
    appendFileSync(
      this.opts.deadLetterFile,
      `${JSON.stringify({ fn: c.fn, at: new Date().toISOString(), first: records[0]?.dynamodb.SequenceNumber, last: records.at(-1)?.dynamodb.SequenceNumber, records: records.length })}\n`,
    );
    this.log(`${c.fn}: a stream batch failed every retry; written to ${this.opts.deadLetterFile}`);
  }

  private save(): void {
    writeFileSync(this.opts.checkpointFile, JSON.stringify(this.checkpoints));
  }

  private async call<T>(target: string, body: Json): Promise<T> {
    const r = await fetch(this.opts.backendUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': target,
        // DynamoDB Local wants a well-formed Authorization header and checks no signature.
        authorization: `AWS4-HMAC-SHA256 Credential=local/20260101/${this.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${target}: ${r.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  }
}
