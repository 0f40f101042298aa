/**
 * Lambda, locally: every function runs from the bundle `cdk synth` made for it, in execution
 * environments of its own — one worker thread each (a separate V8 isolate: its own module state,
 * SDK clients and caches, its own `process.env` from the template), one invocation at a time per
 * environment, as on Lambda. A busy function gets another environment (a cold start) up to
 * `maxInstances`; past that, invocations wait for a free one. An environment's old-generation heap
 * is capped at the function's memory size, and an invocation that outlives the function's timeout
 * is ended by terminating its environment, as Lambda does ("Task timed out after N seconds").
 *
 * What differs from Lambda, and why it does not make the platform kinder: environments are not
 * frozen between invocations (timers left running keep running; our functions leave none), and
 * they are kept until the platform stops rather than reclaimed after idle minutes.
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface LambdaFunction {
  /** The house name (functions/<name>/), which is also its route-table name. */
  readonly name: string;
  /** The deployed FunctionName. */
  readonly functionName: string;
  readonly bundlePath: string;
  /** The exported name of the handler (the part after the dot of `Handler: index.handler`). */
  readonly handler: string;
  readonly memoryMb: number;
  readonly timeoutS: number;
  /** Everything the function's process.env holds: the template's variables, resolved, plus Lambda's own. */
  readonly environment: Record<string, string>;
}

export type InvokeResult =
  | { readonly ok: true; readonly payload: string }
  | { readonly ok: false; readonly errorType: string; readonly errorMessage: string };

export interface LambdaRuntimeOptions {
  /** One line of a function's output (its stdout and stderr, line by line). */
  log?: (fn: string, line: string) => void;
  /** Environments per function at most (Lambda's reserved concurrency, in effect). */
  maxInstances?: number;
  region?: string;
  accountId?: string;
}

interface Instance {
  worker: Worker;
  busy: boolean;
  dead: boolean;
  pending: Map<number, (r: InvokeResult) => void>;
}

const workerFile = fileURLToPath(new URL('./lambda-worker.mjs', import.meta.url));

export class LambdaRuntime {
  private functions = new Map<string, LambdaFunction>();
  private readonly instances = new Map<string, Instance[]>();
  private readonly waiting = new Map<string, (() => void)[]>();
  private nextId = 1;
  private stopped = false;
  private readonly log: (fn: string, line: string) => void;
  private readonly maxInstances: number;
  private readonly region: string;
  private readonly accountId: string;
  /** Counters for tests and the benchmark: environments started (cold starts) per function. */
  readonly coldStarts = new Map<string, number>();

  constructor(functions: readonly LambdaFunction[], opts: LambdaRuntimeOptions = {}) {
    for (const f of functions) this.functions.set(f.name, f);
    this.log = opts.log ?? (() => {});
    this.maxInstances = opts.maxInstances ?? 16;
    this.region = opts.region ?? 'us-east-1';
    this.accountId = opts.accountId ?? '000000000000';
  }

  has(name: string): boolean {
    return this.functions.has(name);
  }

  /** The environment a function's invocations see (the template's, resolved, plus the platform's). */
  environmentOf(name: string): Readonly<Record<string, string>> | undefined {
    return this.functions.get(name)?.environment;
  }

  names(): string[] {
    return [...this.functions.keys()];
  }

  /** New bundles (a rebuild): environments of the old code finish what they run, then go. */
  replace(functions: readonly LambdaFunction[]): void {
    this.functions = new Map(functions.map((f) => [f.name, f]));
    this.recycle();
  }

  /**
   * Retires the function's environments (all functions' without a name): the next invocation is a
   * cold start with fresh module state, as after a configuration update on Lambda. Busy ones finish first.
   */
  recycle(name?: string): void {
    for (const [fn, list] of this.instances) {
      if (name !== undefined && fn !== name) continue;
      for (const inst of list.filter((i) => !i.busy)) void this.dispose(fn, inst);
      for (const inst of list) inst.dead = true;
    }
  }

  /** Invokes a function with an event (any JSON value), as Lambda's synchronous Invoke does. */
  async invoke(name: string, event: unknown, requestId: string = randomUUID()): Promise<InvokeResult> {
    const fn = this.functions.get(name);
    if (!fn) return { ok: false, errorType: 'ResourceNotFoundException', errorMessage: `Function not found: ${name}` };
    if (this.stopped)
      return { ok: false, errorType: 'ServiceException', errorMessage: 'the local Lambda runtime stopped' };
    const inst = await this.acquire(fn);
    const id = this.nextId++;
    const deadline = Date.now() + fn.timeoutS * 1000;
    const result = await new Promise<InvokeResult>((resolve) => {
      const timer = setTimeout(() => {
        // Lambda ends the whole environment; the next invocation gets a fresh one (a cold start).
        inst.pending.delete(id);
        this.dispose(name, inst);
        resolve({
          ok: false,
          errorType: 'Sandbox.Timedout',
          errorMessage: `${new Date().toISOString()} ${requestId} Task timed out after ${fn.timeoutS.toFixed(2)} seconds`,
        });
      }, fn.timeoutS * 1000);
      inst.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      inst.worker.postMessage({ id, payload: JSON.stringify(event ?? null), requestId, deadline });
    });
    this.release(name, inst);
    return result;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = [...this.instances.entries()].flatMap(([name, list]) => list.map((i) => [name, i] as const));
    await Promise.all(all.map(([name, i]) => this.dispose(name, i)));
    for (const list of this.waiting.values()) for (const wake of list) wake();
  }

  private async acquire(fn: LambdaFunction): Promise<Instance> {
    for (;;) {
      const list = this.instances.get(fn.name) ?? [];
      this.instances.set(fn.name, list);
      const idle = list.find((i) => !i.busy && !i.dead);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (list.length < this.maxInstances) {
        const inst = this.start(fn);
        inst.busy = true;
        list.push(inst);
        return inst;
      }
      await new Promise<void>((wake) => {
        const q = this.waiting.get(fn.name) ?? [];
        q.push(wake);
        this.waiting.set(fn.name, q);
      });
      if (this.stopped) throw new Error('the local Lambda runtime stopped');
    }
  }

  private release(name: string, inst: Instance): void {
    inst.busy = false;
    if (inst.dead) this.dispose(name, inst);
    this.waiting.get(name)?.shift()?.();
  }

  private start(fn: LambdaFunction): Instance {
    this.coldStarts.set(fn.name, (this.coldStarts.get(fn.name) ?? 0) + 1);
    const logGroupName = `/aws/lambda/${fn.functionName}`;
    const worker = new Worker(workerFile, {
      workerData: {
        bundlePath: fn.bundlePath,
        handlerName: fn.handler,
        functionName: fn.functionName,
        memoryMb: fn.memoryMb,
        logGroupName,
        region: this.region,
        accountId: this.accountId,
      },
      env: {
        ...fn.environment,
        AWS_LAMBDA_FUNCTION_NAME: fn.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
        AWS_REGION: this.region,
        AWS_DEFAULT_REGION: this.region,
        TZ: 'UTC',
      },
      // No loader, no flags of the parent: the bundle runs on plain Node, as on Lambda.
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: fn.memoryMb },
    });
    const inst: Instance = { worker, busy: false, dead: false, pending: new Map() };
    pipeLines(worker.stdout, (l) => this.log(fn.name, l));
    pipeLines(worker.stderr, (l) => this.log(fn.name, l));
    worker.on('message', (m: { id: number } & InvokeResult) => {
      const done = inst.pending.get(m.id);
      inst.pending.delete(m.id);
      done?.(
        m.ok ? { ok: true, payload: m.payload } : { ok: false, errorType: m.errorType, errorMessage: m.errorMessage },
      );
    });
    const crashed = (errorType: string, errorMessage: string) => {
      inst.dead = true;
      for (const done of inst.pending.values()) done({ ok: false, errorType, errorMessage });
      inst.pending.clear();
    };
    worker.on('error', (e: Error & { code?: string }) =>
      e.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? crashed('Runtime.OutOfMemory', `Runtime exited with error: out of memory (${fn.memoryMb} MB)`)
        : crashed('Runtime.ExitError', `Runtime exited with error: ${e.name}: ${e.message}`),
    );
    worker.on('exit', (code) => crashed('Runtime.ExitError', `Runtime exited with error: exit status ${code}`));
    return inst;
  }

  private async dispose(name: string, inst: Instance): Promise<void> {
    inst.dead = true;
    const list = this.instances.get(name);
    if (list) {
      const i = list.indexOf(inst);
      if (i >= 0) list.splice(i, 1);
    }
    await inst.worker.terminate();
    this.waiting.get(name)?.shift()?.();
  }
}

function pipeLines(stream: NodeJS.ReadableStream, line: (l: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      line(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buf) line(buf);
  });
}
