/**
 * The deployed bundles and template, for the local platform and the benchmark: runs the CDK app
 * (the same constructs, NodejsFunction bundling and template as `cdk synth`) to a directory and
 * maps every `AWS::Lambda::Function` of the template to its asset's `index.mjs` (via
 * `Code.S3Key`, which is `<asset hash>.zip`, or the `aws:asset:path` metadata when the CLI added
 * it), with its memory, timeout and environment as the template declares them.
 *
 * The result is cached in the temp directory (outside the project, so that no node_modules folder
 * above a bundle can satisfy an import the bundle should not make — on Lambda the zip holds only
 * the bundle), keyed by a hash of everything that can change a bundle or the template (infra/,
 * functions/, shared/, the lockfile, cdk.json, tsconfig.json, the Node and esbuild versions).
 * A changed source means a new synth; `fresh` ignores the cache.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { version as esbuildVersion } from 'esbuild';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface DeployedFunction {
  /** Folder under functions/. */
  readonly name: string;
  readonly functionName: string;
  readonly logicalId: string;
  readonly bundlePath: string;
  readonly bytes: number;
  readonly memoryMb: number;
  readonly timeoutS: number;
  readonly architecture: string;
  readonly runtime: string;
  /** The function's environment as the template declares it: strings, or CloudFormation intrinsics. */
  readonly environment: Record<string, unknown>;
}

export interface SynthResult {
  readonly outdir: string;
  /** The stack's synthesized template (CloudFormation JSON). */
  readonly templatePath: string;
  readonly cached: boolean;
  readonly ms: number;
  readonly functions: DeployedFunction[];
}

const INPUTS = ['infra', 'functions', 'shared'];
const INPUT_FILES = ['package-lock.json', 'cdk.json', 'tsconfig.json'];

export function inputsHash(): string {
  const h = createHash('sha256');
  h.update(`node ${process.version} esbuild ${esbuildVersion}\n`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else files.push(p);
    }
  };
  for (const d of INPUTS) walk(join(repoRoot, d));
  for (const f of INPUT_FILES) files.push(join(repoRoot, f));
  for (const f of files.sort()) {
    h.update(`${relative(repoRoot, f)}\0`);
    h.update(readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex').slice(0, 24);
}

export async function synthesize(opts: { fresh: boolean }): Promise<SynthResult> {
  const started = performance.now();
  const cacheRoot = join(tmpdir(), `clover-build-cache-${process.getuid?.() ?? 'user'}`);
  const key = inputsHash();
  const outdir = join(cacheRoot, `synth-${key}`);
  if (!opts.fresh && existsSync(join(outdir, 'manifest.json'))) {
    return {
      outdir,
      templatePath: templatePath(outdir),
      cached: true,
      ms: performance.now() - started,
      functions: readFunctions(outdir),
    };
  }
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(join(cacheRoot, 'work-'));
  try {
    await runSynth(work);
    if (opts.fresh) rmSync(outdir, { recursive: true, force: true });
    renameSync(work, outdir);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    // Another process (a second platform, a test run) made the same build meanwhile: use it.
    if (!existsSync(join(outdir, 'manifest.json'))) throw e;
  }
  // Builds of other sources may still be running in another platform: keep a day's worth.
  for (const old of readdirSync(cacheRoot)) {
    const p = join(cacheRoot, old);
    if (p !== outdir && Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
  }
  return {
    outdir,
    templatePath: templatePath(outdir),
    cached: false,
    ms: performance.now() - started,
    functions: readFunctions(outdir),
  };
}

/** The platform's build step: the cached synth when the sources are unchanged, else a new one, with progress. */
export async function buildFunctions(opts: { log: (line: string) => void; fresh?: boolean }): Promise<SynthResult> {
  const key = inputsHash();
  opts.log(`building the functions as cdk synth does (sources ${key.slice(0, 8)})…`);
  const r = await synthesize({ fresh: opts.fresh ?? false });
  opts.log(
    r.cached
      ? `${r.functions.length} bundles up to date (${r.outdir})`
      : `synthesized ${r.functions.length} bundles in ${(r.ms / 1000).toFixed(1)} s (${r.outdir})`,
  );
  return r;
}

/**
 * `node --import tsx local/synth-app.ts <outdir>` with every AWS_* variable removed. NodejsFunction
 * runs the project's esbuild as `npx --no-install esbuild …` once per function, and npm's own
 * start-up (~2 s each on a loaded 2-core machine) is most of the synth time: a shim `npx` first in
 * PATH runs node_modules/.bin/esbuild — the binary npx would have resolved — directly, and hands
 * any other npx call to the real one. The bundles are byte-identical.
 */
async function runSynth(outdir: string): Promise<void> {
  const shimDir = mkdtempSync(join(tmpdir(), 'clover-build-shim-'));
  const realNpx = findOnPath('npx');
  const esbuildBin = join(repoRoot, 'node_modules', '.bin', 'esbuild');
  writeFileSync(
    join(shimDir, 'npx'),
    [
      '#!/bin/sh',
      `if [ "$1" = "--no-install" ] && [ "$2" = "esbuild" ]; then shift 2; exec ${shq(esbuildBin)} "$@"; fi`,
      realNpx ? `exec ${shq(realNpx)} "$@"` : 'echo "npx not found" >&2; exit 127',
      '',
    ].join('\n'),
  );
  chmodSync(join(shimDir, 'npx'), 0o755);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  env.PATH = `${shimDir}:${process.env.PATH ?? ''}`;
  env.CDK_DISABLE_CLI_TELEMETRY = 'true';
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'local', 'synth-app.ts'), outdir], {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`CDK synth failed (exit ${code}): ${firstError(out)}\n${out.slice(-3000)}`)),
      );
    });
  } finally {
    rmSync(shimDir, { recursive: true, force: true });
  }
}

/** The line of a failed synth that says what failed (esbuild's or TypeScript's error, or CDK's). */
function firstError(out: string): string {
  const lines = out.split('\n').map((l) => l.trim());
  return (
    lines.find((l) => /✘ \[ERROR\]|\bERROR\b|^Error:|error TS\d+|ValidationError/.test(l)) ??
    lines.filter(Boolean).at(-1) ??
    'no output'
  ).slice(0, 400);
}

function findOnPath(bin: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, bin);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface CfnResource {
  Type: string;
  Properties?: Record<string, any>;
  Metadata?: Record<string, any>;
}

/** The stack template's path in a cloud assembly directory. */
export function templatePath(outdir: string): string {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string } }>;
  };
  const stack = Object.values(manifest.artifacts).find((a) => a.type === 'aws:cloudformation:stack');
  const templateFile = stack?.properties?.templateFile;
  if (!templateFile) throw new Error(`no stack template in ${outdir}/manifest.json`);
  return join(outdir, templateFile);
}

export function readFunctions(outdir: string): DeployedFunction[] {
  const template = JSON.parse(readFileSync(templatePath(outdir), 'utf8')) as {
    Resources: Record<string, CfnResource>;
  };
  const known = new Set(readdirSync(join(repoRoot, 'functions')));
  const out: DeployedFunction[] = [];
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const p = r.Properties ?? {};
    const assetPath: string | undefined = r.Metadata?.['aws:asset:path'];
    const s3Key: string | undefined = typeof p.Code?.S3Key === 'string' ? p.Code.S3Key : undefined;
    const assetDir = assetPath
      ? join(outdir, assetPath)
      : s3Key
        ? join(outdir, `asset.${s3Key.replace(/\.zip$/, '')}`)
        : null;
    if (!assetDir) continue;
    const bundlePath = join(assetDir, 'index.mjs');
    if (!existsSync(bundlePath)) continue;
    const functionName = String(p.FunctionName ?? logicalId);
    const name = [...known].find((n) => functionName.endsWith(`-${n}`)) ?? functionName;
    const environment = { ...((p.Environment?.Variables ?? {}) as Record<string, unknown>) };
    out.push({
      name,
      functionName,
      logicalId,
      bundlePath,
      bytes: statSync(bundlePath).size,
      memoryMb: Number(p.MemorySize ?? 128),
      timeoutS: Number(p.Timeout ?? 3),
      architecture: String(p.Architectures?.[0] ?? 'x86_64'),
      runtime: String(p.Runtime ?? ''),
      environment,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** The variables whose value the template states literally (references to resources left out). */
export function literalEnvironment(fn: DeployedFunction): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fn.environment)) if (typeof v === 'string') out[k] = v;
  return out;
}
