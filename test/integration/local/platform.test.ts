/**
 * Issue 2: the platform's start and stop as a user meets them — state survives a restart, a port
 * in use or a missing Java stop it with one line, SIGTERM stops every child.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { readProfile } from '../../../local/credentials';
import { readPlatformFile } from '../../../local/platform';
import { freePort } from '../../../local/ports';

async function ports() {
  const [p, e, d, s] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  return {
    PORT: String(p),
    CLOVER_EMULATOR_PORT: String(e),
    DYNAMODB_PORT: String(d),
    SECRETS_MANAGER_PORT: String(s),
  };
}

/** Runs `npm start`'s entry point until it is ready; resolves with a stopper. */
function start(env: Record<string, string>): Promise<{ stop: () => Promise<number | null>; out: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    out += c;
  });
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes('Ready in')) {
        clearInterval(t);
        resolve({
          out: () => out,
          stop: () =>
            new Promise((r) => {
              child.once('exit', (code) => r(code));
              child.kill('SIGTERM');
            }),
        });
      }
    }, 50);
    child.once('exit', (code) => {
      clearInterval(t);
      reject(new Error(`exited ${code}: ${out}`));
    });
  });
}

function run(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/start.ts'],
      { env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr }),
    );
  });
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

describe('npm start', () => {
  it('keeps a secret and a DynamoDB item across a restart, and SIGTERM stops every child', async () => {
    const env = { ...(await ports()), DATA_DIR: mkdtempSync(join(tmpdir(), 'cpf-restart-')) };
    const first = await start(env);
    expect(first.out()).toContain(`http://127.0.0.1:${env.PORT}`);
    const health = await fetch(`http://127.0.0.1:${env.PORT}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    // The platform's own admin profile (its credentials file is kept across restarts too).
    const creds = readProfile(env.DATA_DIR, 'admin');
    const adminKey = creds.accessKeyId;
    const table = readPlatformFile(env.DATA_DIR)!.tableName;
    const sm = new SecretsManagerClient({
      endpoint: `http://127.0.0.1:${env.SECRETS_MANAGER_PORT}`,
      region: 'us-east-1',
      credentials: creds,
    });
    const ddb = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: `http://127.0.0.1:${env.DYNAMODB_PORT}`,
        region: 'us-east-1',
        credentials: creds,
      }),
    );
    await sm.send(new CreateSecretCommand({ Name: 'restart/check', SecretString: 'kept' }));
    await ddb.send(new PutCommand({ TableName: table, Item: { pk: 'RESTART#1', sk: 'X', v: 42 } }));
    const demo = first.out().match(/demo merchant\s+(\w{13})/)?.[1];
    expect(demo).toBeTruthy();
    expect(await first.stop()).toBe(0);
    for (const p of [env.PORT, env.DYNAMODB_PORT, env.SECRETS_MANAGER_PORT, env.CLOVER_EMULATOR_PORT]) {
      expect(await portFree(Number(p))).toBe(true);
    }

    const second = await start(env);
    try {
      // The same keys work after the restart: a shell that exported a profile keeps working.
      expect(readProfile(env.DATA_DIR, 'admin').accessKeyId).toBe(adminKey);
      expect((await sm.send(new GetSecretValueCommand({ SecretId: 'restart/check' }))).SecretString).toBe('kept');
      expect((await ddb.send(new GetCommand({ TableName: table, Key: { pk: 'RESTART#1', sk: 'X' } }))).Item?.v).toBe(
        42,
      );
      // The demo merchant is the same one, and its keys still work (the emulator kept its state too).
      expect(second.out()).toContain(demo!);
      const { publishable_key } = JSON.parse(
        (await import('node:fs')).readFileSync(join(env.DATA_DIR, 'demo-merchant.json'), 'utf8'),
      );
      const cfg = await fetch(`http://127.0.0.1:${env.PORT}/v1/checkout-config`, {
        headers: { Authorization: `Bearer ${publishable_key}` },
      });
      expect(cfg.status).toBe(200);
    } finally {
      await second.stop();
    }
  }, 180_000);

  it('a port in use stops it with one line naming the variable', async () => {
    const env = { ...(await ports()), DATA_DIR: mkdtempSync(join(tmpdir(), 'cpf-port-')) };
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(Number(env.DYNAMODB_PORT), '127.0.0.1', () => r()));
    try {
      const r = await run(env);
      expect(r.code).toBe(1);
      const errLines = r.stderr.trim().split('\n');
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toMatch(new RegExp(`Port ${env.DYNAMODB_PORT} is already in use: set DYNAMODB_PORT`));
    } finally {
      blocker.close();
    }
  });

  it('without java it says in one line how to install it, no stack trace', async () => {
    const env = { ...(await ports()), DATA_DIR: mkdtempSync(join(tmpdir(), 'cpf-java-')), PATH: '/nonexistent' };
    const r = await run(env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/apt-get install -y openjdk-17-jre-headless/);
    expect(r.stderr).not.toMatch(/\bat \w+ \(/);
  });
});
