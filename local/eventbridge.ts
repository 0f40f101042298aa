/**
 * A minimal EventBridge endpoint (AWS JSON 1.1, `X-Amz-Target: AWSEvents.PutEvents`): it checks
 * each caller's IAM policy (events:PutEvents on the bus), records the events it accepts in memory
 * and in $DATA_DIR/eventbridge.jsonl, and answers as EventBridge does. Rules and targets are not
 * emulated: what a consumer would receive is what is recorded. `GET /_local/events` lists them
 * (tests, `npm run listen`).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Denial, SignedRequest } from './iam-enforcement';

export interface RecordedEvent {
  id: string;
  time: string;
  bus: string;
  source: string;
  detailType: string;
  detail: unknown;
}

export interface EventBridgeEndpoint {
  url: string;
  events: RecordedEvent[];
  close(): Promise<void>;
}

export async function startEventBridge(opts: {
  port: number;
  dataFile: string;
  authorize: (req: SignedRequest, busArns: string[]) => Denial | null;
  region?: string;
  accountId?: string;
}): Promise<EventBridgeEndpoint> {
  const region = opts.region ?? 'us-east-1';
  const account = opts.accountId ?? '000000000000';
  const events: RecordedEvent[] = [];
  const answer = (res: http.ServerResponse, status: number, body: unknown, type?: string) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-RequestId': randomUUID(),
      ...(type ? { 'x-amzn-ErrorType': type } : {}),
    });
    res.end(text);
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'GET' && url.pathname === '/_local/events') {
      const since = Number(url.searchParams.get('since') ?? 0);
      return answer(res, 200, events.slice(since));
    }
    const target = String(req.headers['x-amz-target'] ?? '');
    if (target !== 'AWSEvents.PutEvents') {
      return answer(
        res,
        400,
        { __type: 'UnknownOperationException', message: `Unsupported ${target}` },
        'UnknownOperationException',
      );
    }
    let parsed: { Entries?: Record<string, unknown>[] };
    try {
      parsed = JSON.parse(body.toString('utf8') || '{}');
    } catch {
      return answer(res, 400, { __type: 'SerializationException', message: 'Invalid JSON' }, 'SerializationException');
    }
    const entries = parsed.Entries ?? [];
    const busOf = (e: Record<string, unknown>) => {
      const b = String(e.EventBusName ?? 'default');
      return b.startsWith('arn:') ? b : `arn:aws:events:${region}:${account}:event-bus/${b}`;
    };
    const denial = opts.authorize(
      { service: 'events', method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body },
      [...new Set(entries.map(busOf))],
    );
    if (denial) {
      res.writeHead(denial.status, denial.headers);
      return res.end(denial.body);
    }
    const results = entries.map((e) => {
      const id = randomUUID();
      let detail: unknown;
      try {
        detail = JSON.parse(String(e.Detail ?? '{}'));
      } catch {
        return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
      }
      const rec: RecordedEvent = {
        id,
        time: new Date().toISOString(),
        bus: busOf(e).replace(/^.*event-bus\//, ''),
        source: String(e.Source ?? ''),
        detailType: String(e.DetailType ?? ''),
        detail,
      };
      events.push(rec);
      appendFileSync(opts.dataFile, `${JSON.stringify(rec)}\n`);
      return { EventId: id };
    });
    answer(res, 200, { FailedEntryCount: results.filter((r) => 'ErrorCode' in r).length, Entries: results });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
