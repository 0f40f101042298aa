/**
 * Starts the local platform once for the whole run, exactly as a user does (`npm start` = the
 * child process running local/start.ts), on free ports and a fresh DATA_DIR. Everything the
 * platform prints goes to $DATA_DIR/platform.log, which the leak tests scan (copied to
 * reports/platform-test.log at the end).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readProfile } from '../local/credentials';
import { type PlatformFile, readPlatformFile } from '../local/platform';
import { freePort } from '../local/ports';

/** What the tests know of the platform: its $DATA_DIR/platform.json, and more. */
export interface PlatformInfo extends PlatformFile {
  /** The `admin` profile of the platform's credentials file: set-up and inspection, like the deploying account. */
  admin: { accessKeyId: string; secretAccessKey: string };
  dataDir: string;
  logFile: string;
  demo: { merchant_id: string; publishable_key: string; secret_key: string };
  app: { client_id: string; client_secret: string; webhook_auth_code: string };
}

let child: ChildProcess | undefined;

export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return startPlatformProcess(project, { name: 'test' });
}

/**
 * Starts `npm start`'s entry point as a child process for one vitest run and provides its
 * endpoints to the tests. `name` names the temp DATA_DIR and the copy of the log in reports/
 * (reports/platform-<name>.log), so that several suites never share one.
 */
export async function startPlatformProcess(
  project: TestProject,
  // A first start synthesizes every bundle (tens of seconds on a busy 2-core machine) before it is ready.
  { name, readyTimeoutMs = 300_000 }: { name: string; readyTimeoutMs?: number },
): Promise<() => Promise<void>> {
  const [port, emulatorPort, dynamodbPort, secretsManagerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const dataDir = mkdtempSync(join(tmpdir(), `cpf-${name}-`));
  mkdirSync('reports', { recursive: true });
  // The log lives with this run's data (parallel runs in one tree must not share it) and is copied
  // to reports/ at the end for people to read.
  const logFile = join(dataDir, 'platform.log');
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
      // Webhook retries after ~0.3 s, 1.5 s, 9 s… instead of 1 min, 5 min, 30 min… (docs/events.md).
      EVENTS_RETRY_SCALE: '0.005',
      EVENTS_SWEEP_MS: '250',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let out = '';
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child?.kill('SIGTERM'); // it must not outlive the run it failed
      reject(new Error(`local platform not ready in ${readyTimeoutMs / 1000} s:\n${out.slice(-2000)}`));
    }, readyTimeoutMs);
    const onData = (c: Buffer) => {
      out += c.toString();
      if (out.includes('Ready in')) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    child?.stdout?.on('data', onData);
    child?.stderr?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child?.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`local platform exited (${code}) before it was ready:\n${out.slice(-2000)}`));
    });
  });
  const file = readPlatformFile(dataDir);
  if (!file) throw new Error(`the platform is ready but wrote no ${dataDir}/platform.json`);
  const { accessKeyId, secretAccessKey } = readProfile(dataDir, 'admin');
  const info: PlatformInfo = {
    ...file,
    admin: { accessKeyId, secretAccessKey },
    dataDir,
    logFile,
    demo: JSON.parse(readFileSync(join(dataDir, 'demo-merchant.json'), 'utf8')),
    app: JSON.parse(readFileSync(join(dataDir, 'app.json'), 'utf8')),
  };
  project.provide('platform', info);
  return async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGTERM');
      setTimeout(() => c.kill('SIGKILL'), 10_000).unref();
    });
    await new Promise<void>((r) => log.end(() => r()));
    copyFileSync(logFile, resolve(`reports/platform-${name}.log`));
  };
}
