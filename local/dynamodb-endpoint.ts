/**
 * The DynamoDB endpoint the functions and tools call: a proxy in front of DynamoDB Local that does
 * what DynamoDB Local does not — verify each request's SigV4 signature and evaluate the caller's
 * IAM policies (local/iam-enforcement.ts) — then forwards the request, bytes unchanged, and streams
 * DynamoDB Local's answer back. A denied request never reaches DynamoDB Local.
 *
 * When DynamoDB Local is down (reliability tests stop it), the connection is dropped, as a client
 * of an unreachable endpoint would see.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Denial, SignedRequest } from './iam-enforcement';

export interface DynamoDbEndpointOptions {
  port: number;
  host?: string;
  /** DynamoDB Local's own port. */
  backendPort: number;
  /** Null lets the request through; a denial is answered as AWS answers it. */
  authorize: (req: SignedRequest) => Denial | null;
}

export interface DynamoDbEndpoint {
  url: string;
  close(): Promise<void>;
}

export async function startDynamoDbEndpoint(opts: DynamoDbEndpointOptions): Promise<DynamoDbEndpoint> {
  const host = opts.host ?? '127.0.0.1';
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const denial = opts.authorize({
      service: 'dynamodb',
      method: req.method ?? 'POST',
      url: req.url ?? '/',
      headers: req.headers,
      body,
    });
    if (denial) {
      res.writeHead(denial.status, denial.headers);
      res.end(denial.body);
      return;
    }
    const upstream = http.request(
      {
        host: '127.0.0.1',
        port: opts.backendPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 500, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    upstream.end(body);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
