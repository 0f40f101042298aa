/**
 * `npm start`: the whole system on this machine. Prints each endpoint, is ready when
 * `GET /health` answers 200, and stops every child on SIGINT/SIGTERM.
 */

import { DEMO_PREFIX, demoStorefront } from './demo/storefront';
import { ensureDemoMerchant } from './demo-merchant';
import { operatorEnvironment, optionsFromEnv, PlatformError, startPlatform, writePlatformFile } from './platform';
import { PortInUseError } from './ports';

const t0 = Date.now();
const log = (component: string, line: string) => console.log(`[${component}] ${line}`);
let ready = false;

// Every way this process can end says why, in one line, and a failure exits non-zero: an error
// nobody awaited, or an event loop that ran dry before "Ready" (a start that stalls on a promise
// nothing will settle would otherwise exit 0 without a word).
process.on('unhandledRejection', (e) => fail(`unexpected error: ${(e as Error)?.message ?? String(e)}`));
process.on('uncaughtException', (e) => fail(`unexpected error: ${e?.message ?? String(e)}`));
process.on('exit', (code) => {
  if (!ready && code === 0) {
    console.error('error: the local platform stopped before it was ready (nothing left to wait for)');
    process.exitCode = 1;
  }
});

async function main(): Promise<void> {
  let opts: ReturnType<typeof optionsFromEnv>;
  try {
    opts = optionsFromEnv();
    if (process.argv.includes('--watch')) opts.watch = true;
  } catch (e) {
    return fail((e as Error).message);
  }
  console.log(`Starting Clover Payment Functions locally (data in ${opts.dataDir})…`);
  let platform: Awaited<ReturnType<typeof startPlatform>>;
  try {
    platform = await startPlatform({ ...opts, log: process.env.QUIET ? undefined : log });
  } catch (e) {
    if (e instanceof PlatformError || e instanceof PortInUseError) return fail(e.message);
    return fail(`the local platform could not start: ${(e as Error)?.message ?? String(e)}`);
  }
  running = platform;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    await platform.stop();
    console.log('stopped; local state kept in', opts.dataDir);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  writePlatformFile(platform);
  Object.assign(process.env, operatorEnvironment(platform));
  const health = await fetch(`${platform.gatewayUrl}/health`);
  if (health.status !== 200) return fail(`the gateway answered GET /health with ${health.status}`);

  let demo = null;
  if (platform.emulator) {
    demo = await ensureDemoMerchant({
      dataDir: opts.dataDir,
      gatewayUrl: platform.gatewayUrl,
      emulatorUrl: platform.emulatorUrl,
      clientId: platform.app.client_id,
    });
  }
  platform.gateway.mount(
    DEMO_PREFIX,
    demoStorefront({
      apiUrl: platform.gatewayUrl,
      dataDir: opts.dataDir,
      log: process.env.QUIET ? undefined : (line) => log('demo', line),
    }),
  );
  const rows: [string, string][] = [
    ['API gateway', platform.gatewayUrl],
    ['health', `${platform.gatewayUrl}/health`],
    ['demo storefront', `${platform.gatewayUrl}${DEMO_PREFIX}`],
    ['Clover emulator', platform.emulatorUrl || '(CLOVER_ENV=sandbox: Clover’s sandbox hosts)'],
    ['DynamoDB Local', platform.dynamodbEndpoint],
    ['Secrets Manager', platform.secretsManagerUrl],
    ['data', opts.dataDir],
  ];
  console.log('\nClover Payment Functions is running:');
  for (const [k, v] of rows) console.log(`  ${k.padEnd(16)} ${v}`);
  if (demo) {
    console.log(`  ${'demo merchant'.padEnd(16)} ${demo.merchant_id}  (keys in ${opts.dataDir}/demo-merchant.json)`);
    // The key itself is not printed: output like this ends up in logs.
    const file = `${opts.dataDir}/demo-merchant.json`;
    console.log(
      `\nTry: curl -H "Authorization: Bearer $(node -p "require('${file}').publishable_key")" ${platform.gatewayUrl}/v1/checkout-config`,
    );
  } else {
    console.log('\nInstall your Clover sandbox app on a test merchant; Clover will call /v1/oauth/callback.');
  }
  ready = true;
  console.log(`\nReady in ${((Date.now() - t0) / 1000).toFixed(1)} s. Ctrl-C stops it.`);
}

/** Stops what was started (DynamoDB Local's JVM must not outlive us), says why in one line, exits 1. */
let running: { stop(): Promise<void> } | null = null;
function fail(message: string): void {
  console.error(`error: ${message.split('\n')[0]}`);
  ready = true; // the reason is printed; the exit hook must not print another
  const stopping = running?.stop() ?? Promise.resolve();
  running = null;
  const timer = setTimeout(() => process.exit(1), 10_000);
  stopping.finally(() => {
    clearTimeout(timer);
    process.exit(1);
  });
}

main().catch((e) => fail((e as Error)?.message ?? String(e)));
