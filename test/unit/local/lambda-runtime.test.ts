/**
 * The local Lambda runtime: each function in environments of its own (no module state shared
 * across functions or with the platform), the template's environment, one invocation at a time
 * per environment, the timeout that ends an invocation, and the context a handler gets.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LambdaFunction, LambdaRuntime } from '../../../local/lambda-runtime';

const dir = mkdtempSync(join(tmpdir(), 'lambda-runtime-'));

/** A bundle as esbuild writes them: an ES module exporting `handler`, with module-scope state. */
function bundle(name: string, code: string): string {
  const path = join(dir, `${name}.mjs`);
  writeFileSync(path, code);
  return path;
}

const counter = bundle(
  'counter',
  `let calls = 0;
   globalThis.shared = (globalThis.shared ?? 0) + 1;
   export const handler = async (event, context) => {
     calls++;
     if (event.wait) await new Promise((r) => setTimeout(r, event.wait));
     return { calls, shared: globalThis.shared, env: process.env.GREETING, fn: process.env.AWS_LAMBDA_FUNCTION_NAME,
              remaining: context.getRemainingTimeInMillis(), requestId: context.awsRequestId,
              node: process.versions.node, platformSecret: process.env.PLATFORM_ONLY ?? null,
              memory: context.memoryLimitInMB };
   };`,
);
const sleeper = bundle(
  'sleeper',
  `export const handler = async () => { await new Promise((r) => setTimeout(r, 10_000)); return 'late'; };`,
);
const thrower = bundle(
  'thrower',
  `export const handler = async () => { const e = new Error('no such merchant'); e.name = 'MerchantMissing'; throw e; };`,
);
const broken = bundle('broken', `import 'some-package-the-zip-does-not-have';\nexport const handler = async () => 1;`);

const fn = (name: string, bundlePath: string, extra: Partial<LambdaFunction> = {}): LambdaFunction => ({
  name,
  functionName: `test-${name}`,
  bundlePath,
  handler: 'handler',
  memoryMb: 128,
  timeoutS: 5,
  environment: { GREETING: `hello from ${name}` },
  ...extra,
});

const runtime = new LambdaRuntime(
  [
    fn('a', counter),
    fn('b', counter),
    fn('slow', sleeper, { timeoutS: 1 }),
    fn('throws', thrower),
    fn('broken', broken),
  ],
  { maxInstances: 3 },
);
afterAll(() => runtime.stop());

const payload = <T>(r: Awaited<ReturnType<LambdaRuntime['invoke']>>): T => {
  if (!r.ok) throw new Error(`${r.errorType}: ${r.errorMessage}`);
  return JSON.parse(r.payload) as T;
};

describe('LambdaRuntime', () => {
  it("gives each function its own module state and the template's environment, not the platform's", async () => {
    process.env.PLATFORM_ONLY = 'the platform process has this; no function may see it';
    const a1 = payload<any>(await runtime.invoke('a', {}));
    const a2 = payload<any>(await runtime.invoke('a', {}));
    const b1 = payload<any>(await runtime.invoke('b', {}));
    // Warm environment: the second call of `a` sees the first's module state; `b` (the same code) does not.
    expect([a1.calls, a2.calls, b1.calls]).toEqual([1, 2, 1]);
    // Not even globalThis is shared: each environment is its own isolate.
    expect([a1.shared, b1.shared]).toEqual([1, 1]);
    expect(a1.env).toBe('hello from a');
    expect(b1.env).toBe('hello from b');
    expect(a1.fn).toBe('test-a');
    expect(a1.platformSecret).toBeNull();
    expect(a1.memory).toBe('128');
    expect(a1.node).toBe(process.versions.node);
  });

  it('runs one invocation per environment: concurrent calls start more environments (cold starts)', async () => {
    const before = runtime.coldStarts.get('b') ?? 0;
    const out = await Promise.all([0, 1, 2].map(() => runtime.invoke('b', { wait: 200 })));
    const calls = out.map((r) => payload<any>(r).calls);
    // Three at once need three environments: at most one of them is the warm one from before.
    expect((runtime.coldStarts.get('b') ?? 0) - before).toBeGreaterThanOrEqual(2);
    expect(calls.filter((c) => c === 1).length).toBeGreaterThanOrEqual(2);
  });

  it('queues past maxInstances instead of running two invocations in one environment', async () => {
    const out = await Promise.all([0, 1, 2, 3, 4, 5].map(() => runtime.invoke('a', { wait: 100 })));
    expect(out.every((r) => r.ok)).toBe(true);
    expect(runtime.coldStarts.get('a')).toBeLessThanOrEqual(3);
  });

  it('hands the handler a context whose remaining time counts down from the timeout', async () => {
    const r = payload<any>(await runtime.invoke('a', {}, 'req-123'));
    expect(r.requestId).toBe('req-123');
    expect(r.remaining).toBeGreaterThan(3000);
    expect(r.remaining).toBeLessThanOrEqual(5000);
  });

  it('ends an invocation at the timeout, as Lambda does, and the next one gets a fresh environment', async () => {
    const r = await runtime.invoke('slow', {});
    expect(r).toMatchObject({ ok: false, errorType: 'Sandbox.Timedout' });
    expect(!r.ok && r.errorMessage).toMatch(/Task timed out after 1\.00 seconds/);
    const cold = runtime.coldStarts.get('slow');
    await runtime.invoke('slow', {});
    expect(runtime.coldStarts.get('slow')).toBe((cold ?? 0) + 1);
  });

  it("reports a handler's error with its name and message", async () => {
    expect(await runtime.invoke('throws', {})).toEqual({
      ok: false,
      errorType: 'MerchantMissing',
      errorMessage: 'no such merchant',
    });
  });

  it('a bundle that imports what the Lambda zip would not hold fails at init, as on Lambda', async () => {
    const r = await runtime.invoke('broken', {});
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errorMessage).toMatch(/some-package-the-zip-does-not-have/);
  });

  it('an unknown function is ResourceNotFoundException', async () => {
    expect(await runtime.invoke('nope', {})).toMatchObject({ ok: false, errorType: 'ResourceNotFoundException' });
  });
});
