/**
 * A tiny HTTP server for the IAM unit tests: real AWS SDK clients send to it, it records each raw
 * request (method, url, headers, body) exactly as a local endpoint would receive it, and answers
 * with whatever the test decides — so signatures are the SDK's own and error parsing is the SDK's own.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  headersDistinct: NodeJS.Dict<string[]>;
  body: Buffer;
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface CaptureServer {
  url: string;
  requests: CapturedRequest[];
  reply: (r: CapturedRequest) => Reply;
  close(): Promise<void>;
}

export async function startCaptureServer(): Promise<CaptureServer> {
  const state: CaptureServer = {
    url: '',
    requests: [],
    reply: () => ({ status: 200, headers: { 'content-type': 'application/x-amz-json-1.0' }, body: '{}' }),
    close: async () => {},
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const captured: CapturedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        headersDistinct: req.headersDistinct,
        body: Buffer.concat(chunks),
      };
      state.requests.push(captured);
      const r = state.reply(captured);
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      server.closeAllConnections();
    });
  return state;
}
