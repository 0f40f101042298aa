/**
 * Phase 1b: cold import. For every function, the time a fresh `node` process takes to import the
 * deployed bundle and run its module-scope init, next to a bare `node -e 0` and next to a naive
 * bundle of the same handler (esbuild defaults for Node: CommonJS, SDK from its `dist-cjs`
 * builds, minified). Runs are interleaved in shuffled rounds, so that a load change on this shared
 * machine hits every variant alike. Each bundle is loaded through a small ESM bootstrap, as
 * Lambda's runtime loads handlers (see BOOT); `import ms` = median process time − median time of
 * the bootstrap alone. Wall time and the CPU time each process reports at exit are both kept.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { DeployedFunction } from '../local/build';
import { literalEnvironment, repoRoot } from '../local/build';
import { median, shuffle } from './stats';

export interface ColdRow {
  readonly name: string;
  readonly deployedBytes: number;
  readonly naiveBytes: number;
  /** Median whole-process time (ms), bootstrap included. */
  readonly deployedProcessMs: number;
  readonly naiveProcessMs: number;
  /** Median process time − median time of the bootstrap importing nothing (ms). */
  readonly deployedImportMs: number;
  readonly naiveImportMs: number;
  /** deployedImportMs / naiveImportMs. */
  readonly ratioToNaive: number;
  /** The same in main-thread CPU time (the import's critical path): far less sensitive to other load. */
  readonly deployedImportCpuMs: number;
  readonly naiveImportCpuMs: number;
  readonly ratioToNaiveCpu: number;
  /** Static imports of anything but Node built-ins: each would fail on Lambda, where the zip holds only the bundle. */
  readonly staticExternals: string[];
  readonly error: string | null;
}

export interface ColdResult {
  readonly runs: number;
  readonly concurrency: number;
  /** Bare `node -e 0`: the absolute baseline. */
  readonly bareMs: number;
  readonly bareCpuMs: number;
  /** The runtime-like ESM bootstrap importing nothing: what `import ms` subtracts. */
  readonly bootMs: number;
  readonly bootCpuMs: number;
  /** Median time a run's main thread waited for a CPU (ms): how loaded the machine was. */
  readonly runQueueWaitMs: number;
  readonly rows: ColdRow[];
  readonly ms: number;
}

/** The naive bundle: esbuild's defaults for `platform: node` (CJS, main fields `main,module`). */
export async function buildNaive(name: string, outDir: string): Promise<{ path: string; bytes: number }> {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `${name}.cjs`);
  await build({
    entryPoints: [join(repoRoot, 'functions', name, 'index.ts')],
    bundle: true,
    minify: true,
    platform: 'node',
    outfile: path,
    logLevel: 'silent',
  });
  return { path, bytes: statSync(path).size };
}

/** a ÷ b, or NaN when either is not a positive time (noise can push a small import below its baseline). */
export const ratio = (a: number, b: number): number => (a > 0 && b > 0 ? a / b : Number.NaN);

/** Specifiers of the static `import … from` / `export … from` statements of an ES module bundle. */
export function staticImports(code: string): string[] {
  const out = new Set<string>();
  const re = /(?:^|[;\n}])\s*(?:import|export)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']/g;
  for (const m of code.matchAll(re)) out.add(m[1]!);
  return [...out];
}

/** What a deployed function sees at init, minus anything that would reach the network. */
export function importEnv(fn: DeployedFunction): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...literalEnvironment(fn),
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_SESSION_TOKEN: 'bench-session',
    AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    // Lambda's Node 24 does not print the SDK's Node-version warning; Node 20 here would.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TABLE_NAME: 'clover-payments',
  };
}

export interface Job {
  readonly key: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
}

export interface Sample {
  /** Wall time from spawn to exit, seen by this process (ms). */
  readonly ms: number;
  /** CPU time of the child's main thread (ms), reported by the hook at exit; NaN if missing. */
  readonly cpuMs: number;
  /** CPU time of all the child's threads (ms). */
  readonly allCpuMs: number;
  /** Time the child's main thread waited for a CPU (ms): load from elsewhere. */
  readonly waitMs: number;
  readonly code: number | null;
  readonly stderr: string;
}

/**
 * Every bundle is loaded the way Lambda's Node.js runtime loads a handler: its bootstrap is an ES
 * module that `import()`s an .mjs handler (and `require()`s a .cjs one), so the ESM loader's own
 * start-up is the runtime's cost, paid whatever the handler's format. Run with no argument, it is
 * the baseline that `import ms` subtracts.
 */
export const BOOT = `import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const target = process.argv[2];
if (target?.endsWith('.cjs')) createRequire(import.meta.url)(target);
else if (target) await import(pathToFileURL(target).href);
`;

/**
 * Preloaded with `-r` into every run (bare ones too): at exit it writes to fd 3 the CPU time of
 * the process's main thread and the time that thread spent waiting for a CPU (both from
 * /proc/self/task/<pid>/schedstat, in ns), and the CPU time of all its threads (process.cpuUsage,
 * µs). The main thread is the critical path of an import; run-queue waits are other load on the
 * machine. A CommonJS preload costs the same for ESM and CJS entries (an `--import` preload
 * would start the ESM loader, which a CommonJS entry otherwise does not need).
 */
export const CPU_HOOK = `const fs = require('node:fs');
process.on('exit', () => {
  const u = process.cpuUsage();
  let main = -1, wait = -1;
  try { [main, wait] = fs.readFileSync('/proc/self/task/' + process.pid + '/schedstat', 'utf8').split(' ').map(Number); } catch {}
  try { fs.writeSync(3, JSON.stringify({ all: u.user + u.system, main, wait })); } catch {}
});
`;

function timeProcess(job: Job): Promise<Sample> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, job.args, { env: job.env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let cpu = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    (child.stdio[3] as NodeJS.ReadableStream | null)?.on('data', (d: Buffer) => {
      cpu += d.toString();
    });
    let exited: { ms: number; code: number | null } | null = null;
    child.on('exit', (code) => {
      exited = { ms: Number(process.hrtime.bigint() - t0) / 1e6, code };
    });
    child.on('close', () => {
      const e = exited ?? { ms: Number.NaN, code: null };
      let r = { all: Number.NaN, main: Number.NaN, wait: Number.NaN };
      try {
        r = JSON.parse(cpu) as typeof r;
      } catch {
        // no report: NaN
      }
      const cpuMs = r.main >= 0 ? r.main / 1e6 : r.all / 1000;
      resolve({ ms: e.ms, cpuMs, allCpuMs: r.all / 1000, waitMs: r.wait / 1e6, code: e.code, stderr });
    });
    child.on('error', (e) =>
      resolve({
        ms: Number.NaN,
        cpuMs: Number.NaN,
        allCpuMs: Number.NaN,
        waitMs: Number.NaN,
        code: -1,
        stderr: String(e),
      }),
    );
  });
}

/** Runs every job once per round, rounds in shuffled order, `concurrency` processes at a time. */
export async function sampleProcesses(
  jobs: readonly Job[],
  runs: number,
  concurrency: number,
  onRound?: (round: number, samples: Map<string, Sample[]>) => void,
): Promise<{ samples: Map<string, Sample[]>; errors: Map<string, string> }> {
  const samples = new Map<string, Sample[]>(jobs.map((j) => [j.key, []]));
  const errors = new Map<string, string>();
  for (let round = 0; round < runs; round++) {
    const queue = shuffle(jobs.filter((j) => !errors.has(j.key)));
    await Promise.all(
      Array.from({ length: Math.max(1, concurrency) }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          const r = await timeProcess(job);
          if (r.code === 0) samples.get(job.key)!.push(r);
          else errors.set(job.key, `exit ${r.code}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
        }
      }),
    );
    onRound?.(round + 1, samples);
  }
  return { samples, errors };
}

export async function measureCold(opts: {
  functions: DeployedFunction[];
  naiveDir: string;
  runs: number;
  concurrency: number;
  progress: (line: string) => void;
}): Promise<ColdResult> {
  const started = performance.now();
  const naive = new Map<string, { path: string; bytes: number }>();
  await Promise.all(opts.functions.map(async (fn) => naive.set(fn.name, await buildNaive(fn.name, opts.naiveDir))));
  const hook = join(opts.naiveDir, 'cpu-hook.cjs');
  writeFileSync(hook, CPU_HOOK);
  const boot = join(opts.naiveDir, 'boot.mjs');
  writeFileSync(boot, BOOT);

  const bareEnv = importEnv(opts.functions[0]!);
  const jobs: Job[] = [
    { key: 'bare', args: ['-r', hook, '-e', '0'], env: bareEnv },
    { key: 'boot', args: ['-r', hook, boot], env: bareEnv },
  ];
  for (const fn of opts.functions) {
    const env = importEnv(fn);
    jobs.push({ key: `deployed:${fn.name}`, args: ['-r', hook, boot, fn.bundlePath], env });
    jobs.push({ key: `naive:${fn.name}`, args: ['-r', hook, boot, naive.get(fn.name)!.path], env });
  }
  const { samples, errors } = await sampleProcesses(jobs, opts.runs, opts.concurrency, (round, samples) => {
    if (round % 5 === 0 || round === opts.runs) {
      const bare = samples.get('bare')!;
      opts.progress(
        `cold imports: round ${round}/${opts.runs} (bare node -e 0: ${median(bare.map((s) => s.ms)).toFixed(0)} ms wall, ${median(bare.map((s) => s.cpuMs)).toFixed(0)} ms main-thread CPU, ${median(bare.map((s) => s.waitMs)).toFixed(0)} ms waiting for a CPU)`,
      );
    }
  });

  const wall = (key: string) => (samples.get(key) ?? []).map((s) => s.ms);
  const cpu = (key: string) => (samples.get(key) ?? []).map((s) => s.cpuMs).filter((x) => !Number.isNaN(x));
  const bare = median(wall('bare'));
  const bareCpu = median(cpu('bare'));
  const bootMs = median(wall('boot'));
  const bootCpu = median(cpu('boot'));
  const rows: ColdRow[] = opts.functions.map((fn) => {
    const dk = `deployed:${fn.name}`;
    const nk = `naive:${fn.name}`;
    const dp = median(wall(dk));
    const np = median(wall(nk));
    const dc = median(cpu(dk)) - bootCpu;
    const nc = median(cpu(nk)) - bootCpu;
    const err = errors.get(dk)
      ? `deployed bundle: ${errors.get(dk)}`
      : errors.get(nk)
        ? `naive bundle: ${errors.get(nk)}`
        : null;
    return {
      name: fn.name,
      deployedBytes: fn.bytes,
      naiveBytes: naive.get(fn.name)!.bytes,
      deployedProcessMs: dp,
      naiveProcessMs: np,
      deployedImportMs: dp - bootMs,
      naiveImportMs: np - bootMs,
      ratioToNaive: ratio(dp - bootMs, np - bootMs),
      deployedImportCpuMs: dc,
      naiveImportCpuMs: nc,
      ratioToNaiveCpu: ratio(dc, nc),
      staticExternals: staticImports(readFileSync(fn.bundlePath, 'utf8')).filter((x) => !x.startsWith('node:')),
      error: err,
    };
  });
  return {
    runs: opts.runs,
    concurrency: opts.concurrency,
    bareMs: bare,
    bareCpuMs: bareCpu,
    bootMs,
    bootCpuMs: bootCpu,
    runQueueWaitMs: median(
      [...samples.values()]
        .flat()
        .map((x) => x.waitMs)
        .filter((x) => !Number.isNaN(x)),
    ),
    rows,
    ms: performance.now() - started,
  };
}
