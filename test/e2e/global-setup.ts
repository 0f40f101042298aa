/**
 * The browser tests' platform: `npm start` (local/start.ts in a child process) on free ports and a
 * fresh DATA_DIR, as test/global-setup.ts does for the integration tests, but logging to its own
 * file (reports/platform-e2e.log) so that the two runs never write over each other's log.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort } from '../../local/ports';
import type { PlatformInfo } from '../global-setup';

let child: ChildProcess | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [port, emulatorPort, dynamodbPort, secretsManagerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const dataDir = mkdtempSync(join(tmpdir(), 'cpf-e2e-'));
  mkdirSync('reports', { recursive: true });
  const logFile = resolve('reports/platform-e2e.log');
  const log = createWriteStream(logFile);
  child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      CLOVER_EMULATOR_PORT: String(emulatorPort),
      DYNAMODB_PORT: String(dynamodbPort),
      SECRETS_MANAGER_PORT: String(secretsManagerPort),
      DATA_DIR: dataDir,
      CLOVER_ENV: 'emulator',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let out = '';
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`local platform not ready in 90 s:\n${out.slice(-2000)}`)), 90_000);
    child?.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready in')) {
        clearTimeout(timer);
        resolveReady();
      }
    });
    child?.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child?.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`local platform exited (${code}) before it was ready:\n${out.slice(-2000)}`));
    });
  });
  const info: PlatformInfo = {
    gatewayUrl: `http://127.0.0.1:${port}`,
    emulatorUrl: `http://127.0.0.1:${emulatorPort}`,
    dynamodbEndpoint: `http://127.0.0.1:${dynamodbPort}`,
    secretsManagerUrl: `http://127.0.0.1:${secretsManagerPort}`,
    dataDir,
    logFile,
    demo: JSON.parse(readFileSync(join(dataDir, 'demo-merchant.json'), 'utf8')),
    app: JSON.parse(readFileSync(join(dataDir, 'app.json'), 'utf8')),
  };
  project.provide('platform', info);
  return async () => {
    const c = child;
    if (c && c.exitCode === null) {
      await new Promise<void>((r) => {
        c.once('exit', () => r());
        c.kill('SIGTERM');
        setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
      });
    }
    log.end();
  };
}
