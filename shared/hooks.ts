/**
 * The seams the deterministic simulation (test/simulation/) drives the money core through: the
 * clock, the step boundaries of an operation (where it injects a crash), and the transport to
 * Clover (where it injects faults). In production nothing replaces them: the clock is the system
 * clock, a step boundary does nothing, and Clover is called with `fetch`. No production code
 * branches on them; it only calls them.
 */

/** The step boundaries of a money operation, in order (docs/money.md, "Steps"). */
export type Step =
  /** The idempotency key is claimed; nothing else is written yet. */
  | 'key_claimed'
  /** The operation is recorded pending (or taken over), before Clover is called. */
  | 'recorded'
  /** Clover answered (or a lookup did), before the outcome is written. */
  | 'clover_answered'
  /** The outcome is written, before the response is returned. */
  | 'resolved';

export interface Hooks {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Called at each step boundary; a crash injected here never returns. */
  step(step: Step, resourceId: string): void | Promise<void>;
  /** The transport every Clover call goes through. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
}

const production: Hooks = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  step: () => {},
  fetch: (input, init) => fetch(input, init),
};

export const hooks: Hooks = { ...production };

/** Puts the production behaviour back (tests that replaced a hook). */
export function resetHooks(): void {
  Object.assign(hooks, production);
}

export const now = (): number => hooks.now();
