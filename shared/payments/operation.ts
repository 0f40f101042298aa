/**
 * The money state machine (docs/money.md), one engine for charges, captures and refunds:
 *
 *   recorded (pending, leased) ──send──▶ evidence ──made / declined / refused──▶ resolved
 *                                          └──unknown──▶ pending (lease released; retried by the
 *                                                        caller with the same key, or by the reconciler
 *                                                        with backoff; needs_attention after many tries)
 *
 * What an answer proves is decided by `evidenceOf` alone (./evidence.ts). An operation taken over
 * after an earlier send (a caller's retry, the reconciler) is looked up at Clover first, and sent
 * again only when the lookup proves nothing was made or when a second send cannot make it twice
 * (`duplicateSafe`: a single-use card token, a capture, a whole refund).
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { dynamo } from '../aws';
import type { CloverResult } from '../clover/client';
import { config } from '../config';
import { hooks } from '../hooks';
import { ApiError } from '../http/errors';
import { dependencyUnavailable, isDependencyFailure } from '../http/handler';
import { toResponse } from '../http/response';
import { IDEMPOTENCY_TTL_S, inProgress, type KeyRecord, keepKeyAlive, replayed } from '../idempotency';
import { logger } from '../log';
import { emitMetric } from '../metrics';
import { isUnresolved, type MoneyRecord, type StoredAnswer } from '../store/ledger';
import { parseDue, pendingKeys } from '../store/pending';
import { type PendingCause, pendingError } from './answers';
import { callClover } from './clover-calls';
import {
  type Attempt,
  type Evidence,
  type EvidenceInput,
  type Expectation,
  evidenceOf,
  type Lookup,
  type Operation,
} from './evidence';

/** How long a caller's request holds an operation: longer than the API functions' timeout (10 s). */
export const CLAIM_LEASE_MS = 30_000;
/** How long a reconciler run holds one: longer than its timeout (50 s). */
export const RECONCILER_LEASE_MS = 60_000;
/** The reconciler leaves an operation to its own request this long first. */
export const RECONCILE_GRACE_MS = 30_000;
/** Reconciler tries before an operation needs attention (about an hour of backoff). */
export const NEEDS_ATTENTION_AFTER = 8;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 3600_000;
/** An operation that needs attention is still tried, this often. */
const ATTENTION_RETRY_MS = 6 * 3600_000;
/** A key whose operation has been unresolved this long is kept alive by the reconciler. */
const KEEP_KEY_AFTER_MS = 12 * 3600_000;

/** How an operation ends. */
export type Resolution =
  | { readonly kind: 'succeeded'; readonly object: Record<string, unknown> }
  | {
      readonly kind: 'failed';
      readonly answer: StoredAnswer;
      readonly cloverChargeId?: string;
      /** Clover declined the card (not a refusal of the request): counted against card testing. */
      readonly declined?: true;
      /** Declines only: the decline reason Clover gave, if any. */
      readonly declineCode?: string;
    };

/** What the engine needs to know about one kind of operation. */
export interface Kind<R extends MoneyRecord> {
  readonly op: Operation;
  load(merchantId: string, id: string): Promise<R | null>;
  expect(r: R): Expectation;
  /** A second send cannot make it happen twice, whatever Clover does with the repeated key. */
  duplicateSafe(r: R): boolean;
  /** The charge a pending error names. */
  chargeId(r: R): string;
  send(r: R, token: string, deadline: number): Promise<CloverResult<unknown>>;
  lookup(r: R, deadline: number, settled: boolean): Promise<Lookup>;
  /**
   * Writes the outcome, conditioned on the operation being unresolved (and, when `attempt` is
   * given, on nobody having taken it since). Throws DynamoDB's condition failure otherwise.
   */
  resolve(r: R, res: Resolution, cond: { attempt?: number; at: number; requestId: string }): Promise<R>;
  answer(r: R): Promise<APIGatewayProxyResult>;
}

export interface Drive {
  readonly owner: string;
  readonly requestId: string;
  /** Epoch ms by which every Clover call of this request ends. */
  readonly deadline: number;
  /** The operation was recorded by this request: no earlier send exists. */
  readonly first: boolean;
  /** From when a lookup that finds nothing proves nothing was made (null: no earlier send). */
  readonly settledAt: number | null;
  /** The operation's `attempt` as this request holds it. */
  readonly attempt: number;
  readonly reconciler: boolean;
  /** The first send's budget turn was taken before the operation was recorded. */
  readonly turnTaken?: boolean;
}

export interface Driven<R> {
  readonly response: APIGatewayProxyResult;
  /** The resolved record, or null when the operation is still unresolved. */
  readonly resolved: R | null;
}

/**
 * Carries an operation this request holds to an outcome, or leaves it pending. A charge, capture
 * or refund goes through here on its first send, on every retry and in the reconciler.
 */
export async function drive<R extends MoneyRecord>(kind: Kind<R>, r: R, ctx: Drive): Promise<Driven<R>> {
  const expect = kind.expect(r);
  let attempt: Attempt = ctx.first ? 'first' : 'resend';
  let answer: CloverResult<unknown> | undefined;
  let lookup: Lookup | undefined;
  let evidence: Evidence;
  try {
    if (!ctx.first && (ctx.reconciler || !kind.duplicateSafe(r))) {
      // Look up first: send again only when Clover provably made nothing, or when it cannot make it twice.
      const settled = ctx.settledAt !== null && hooks.now() >= ctx.settledAt;
      lookup = await kind.lookup(r, ctx.deadline, settled);
      evidence = evidenceOf({ expect, attempt, lookup });
      await hooks.step('clover_answered', r.id);
      if (decisive(evidence)) return await settle(kind, r, evidence, ctx, attempt);
      if (evidence.kind === 'not_made') attempt = 'first';
      else if (!kind.duplicateSafe(r)) return await stayPending(kind, r, ctx, { lookup });
    }
    const call = await callClover(r.merchant_id, ctx.deadline, (t, d) => kind.send(r, t, d), {
      turnTaken: ctx.turnTaken === true && ctx.first,
    });
    answer = call.answer;
    if (call.sends > 1) attempt = 'resend';
    await hooks.step('clover_answered', r.id);
    const input: EvidenceInput = { expect, attempt, answer };
    evidence = evidenceOf(input);
    if (evidence.kind === 'unknown' && attempt === 'resend' && ctx.deadline - hooks.now() > 1500) {
      // Our own send is too recent for an absence to prove anything: only a find counts.
      lookup = await kind.lookup(r, ctx.deadline, false);
      evidence = evidenceOf({ ...input, lookup });
    }
  } catch (e) {
    // Our side failed (token store, merchant authorization, rate budget) with nothing more sent.
    await (ctx.reconciler ? reschedule(kind, r, ctx, hooks.now()) : release(r, ctx)).catch(() => {});
    throw pendingFailure(e, kind.chargeId(r));
  }
  if (!decisive(evidence)) return stayPending(kind, r, ctx, { answer, lookup });
  return settle(kind, r, evidence, ctx, attempt);
}

/** Evidence that resolves an operation: made, declined, or refused (not an absence, which only permits a send). */
function decisive(e: Evidence): boolean {
  return e.kind === 'made' || e.kind === 'declined' || (e.kind === 'not_made' && e.rejection !== undefined);
}

async function settle<R extends MoneyRecord>(
  kind: Kind<R>,
  r: R,
  evidence: Evidence,
  ctx: Drive,
  attempt: Attempt,
): Promise<Driven<R>> {
  const at = hooks.now();
  const res = resolutionOf(evidence, ctx.requestId);
  // A refusal or a decline answered to a send proves something only while nobody else has sent since.
  const needsAttempt = evidence.kind !== 'made' && evidence.kind !== 'unknown' && evidence.via === 'answer';
  let resolved: R;
  try {
    resolved = await kind.resolve(r, res, {
      ...(needsAttempt && attempt === 'first' ? { attempt: ctx.attempt } : {}),
      at,
      requestId: ctx.requestId,
    });
  } catch (e) {
    if (!isConditionFailure(e)) throw pendingFailure(e, kind.chargeId(r));
    // Resolved meanwhile by someone else, or taken over: answer from what is stored.
    const now = await kind.load(r.merchant_id, r.id);
    if (now && !isUnresolved(now.status)) return { response: await kind.answer(now), resolved: now };
    throw inProgress(kind.chargeId(r));
  }
  await hooks.step('resolved', r.id);
  if (ctx.reconciler) emitMetric('PendingChargesResolved');
  return { response: await kind.answer(resolved), resolved };
}

function resolutionOf(e: Evidence, requestId: string): Resolution {
  if (e.kind === 'made') return { kind: 'succeeded', object: e.object as unknown as Record<string, unknown> };
  if (e.kind === 'declined') {
    return {
      kind: 'failed',
      answer: {
        status: 402,
        type: 'card_error',
        code: 'card_declined',
        message: 'The card was declined.',
        param: 'source',
        ...(e.declineCode ? { decline_code: e.declineCode } : {}),
        request_id: requestId,
      },
      declined: true,
      ...(e.cloverChargeId ? { cloverChargeId: e.cloverChargeId } : {}),
      ...(e.declineCode ? { declineCode: e.declineCode } : {}),
    };
  }
  if (e.kind === 'not_made' && e.rejection) {
    const j = e.rejection;
    return {
      kind: 'failed',
      answer: {
        status: j.status,
        type: 'invalid_request_error',
        code: j.code,
        message: j.message,
        ...(j.param ? { param: j.param } : {}),
        request_id: requestId,
      },
    };
  }
  throw new Error(`not decisive evidence: ${e.kind}`);
}

/**
 * The operation stays unresolved: the caller's request gives its lease back (a retry may take it
 * at once) and is told why; the reconciler schedules its next try, and after NEEDS_ATTENTION_AFTER
 * tries marks it `needs_attention` (metric, error log line) without ever blocking the others.
 */
async function stayPending<R extends MoneyRecord>(
  kind: Kind<R>,
  r: R,
  ctx: Drive,
  cause: PendingCause,
): Promise<Driven<R>> {
  const now = hooks.now();
  logger.warn('money operation left pending', {
    op: kind.op,
    id: r.id,
    merchantId: r.merchant_id,
    why: describe(cause),
  });
  if (ctx.reconciler) await reschedule(kind, r, ctx, now).catch(() => {});
  else await release(r, ctx).catch(() => {});
  const unsettled = cause.lookup?.kind === 'absent' && !cause.lookup.settled;
  const settleIn = ctx.settledAt !== null ? Math.ceil((ctx.settledAt - now) / 1000) : 1;
  const retryAfter = unsettled ? Math.min(120, Math.max(1, settleIn)) : 1;
  const err = pendingError(kind.op, cause, kind.chargeId(r), retryAfter);
  return { response: toResponse(err, ctx.requestId), resolved: null };
}

function describe(cause: PendingCause): string {
  const a = cause.answer;
  const answer = !a
    ? ''
    : a.kind === 'ok'
      ? `HTTP ${a.status}`
      : a.kind === 'clover_error'
        ? `HTTP ${a.status} ${a.body.error?.code ?? ''}`
        : a.kind;
  const lookup = cause.lookup ? `lookup ${cause.lookup.kind}` : '';
  return [answer, lookup].filter(Boolean).join(', ') || 'no evidence';
}

/** Gives the lease back: the holder sends nothing more, so lookups settle from now. */
async function release(r: MoneyRecord, ctx: Drive): Promise<void> {
  await dynamo.send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: { pk: r.pk, sk: r.sk },
      UpdateExpression: 'SET lease_until = :now REMOVE lease_owner',
      ConditionExpression: 'lease_owner = :me',
      ExpressionAttributeValues: { ':now': hooks.now(), ':me': ctx.owner },
    }),
  );
}

/** The reconciler's next try of an operation, with backoff; needs_attention after many. */
async function reschedule<R extends MoneyRecord>(kind: Kind<R>, r: R, ctx: Drive, now: number): Promise<void> {
  const tries = (r.tries ?? 0) + 1;
  const attention = tries >= NEEDS_ATTENTION_AFTER;
  const since = r.pending_due ? parseDue(r.pending_due).sinceMs : Date.parse(r.created);
  const due = now + (attention ? ATTENTION_RETRY_MS : backoffMs(r.id, tries));
  const keys = pendingKeys(r.id, due, since, attention ? 'A' : 'P');
  await dynamo.send(
    new UpdateCommand({
      TableName: config.tableName,
      Key: { pk: r.pk, sk: r.sk },
      UpdateExpression: `SET tries = :t, lease_until = :now, pending_shard = :ps, pending_due = :pd${attention ? ', #s = :attention' : ''} REMOVE lease_owner`,
      ConditionExpression: 'lease_owner = :me',
      ...(attention ? { ExpressionAttributeNames: { '#s': 'status' } } : {}),
      ExpressionAttributeValues: {
        ':t': tries,
        ':now': now,
        ':ps': keys.pending_shard,
        ':pd': keys.pending_due,
        ':me': ctx.owner,
        ...(attention ? { ':attention': 'needs_attention' } : {}),
      },
    }),
  );
  if (attention && r.status !== 'needs_attention') {
    emitMetric('NeedsAttention');
    logger.error('money operation needs attention', {
      op: kind.op,
      id: r.id,
      merchantId: r.merchant_id,
      tries,
      pendingSince: new Date(since).toISOString(),
    });
  }
}

/** 30 s, doubling, capped at an hour, ±20 % (derived from the id, so runs are reproducible). */
export function backoffMs(id: string, tries: number): number {
  const base = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, tries - 1));
  let h = 0;
  for (const c of `${id}#${tries}`) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return Math.round(base * (0.8 + 0.4 * ((h % 1000) / 1000)));
}

export interface Taken<R> {
  readonly record: R;
  /** From when a lookup that finds nothing proves that no earlier send made anything. */
  readonly settledAt: number;
}

/**
 * Takes an unresolved operation whose lease is free or expired (a caller's retry, the reconciler):
 * one conditional update, on the operation itself, so the taker is exactly the one it read.
 */
export async function take<R extends MoneyRecord>(
  r: Pick<R, 'pk' | 'sk'>,
  owner: string,
  now: number,
  leaseMs: number,
): Promise<Taken<R> | null> {
  try {
    const out = await dynamo.send(
      new UpdateCommand({
        TableName: config.tableName,
        Key: { pk: r.pk, sk: r.sk },
        UpdateExpression: 'SET lease_owner = :me, lease_until = :until, attempt = attempt + :one',
        ConditionExpression:
          '#s IN (:pending, :attention) AND (attribute_not_exists(lease_owner) OR lease_until < :now)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':me': owner,
          ':until': now + leaseMs,
          ':one': 1,
          ':now': now,
          ':pending': 'pending',
          ':attention': 'needs_attention',
        },
        ReturnValues: 'ALL_OLD',
      }),
    );
    const old = out.Attributes as R;
    return {
      record: { ...old, lease_owner: owner, lease_until: now + leaseMs, attempt: old.attempt + 1 },
      settledAt: old.lease_until + config.listSettleMs,
    };
  } catch (e) {
    if (e instanceof ConditionalCheckFailedException) return null;
    throw e;
  }
}

export interface Resume<R extends MoneyRecord> {
  readonly kind: Kind<R>;
  readonly merchantId: string;
  readonly requestId: string;
  readonly key: KeyRecord;
  /** Checks that the merchant may take payments, before anything is sent. */
  readonly ensureMerchant: () => Promise<unknown>;
  /** The operation's first write, again, when the request that claimed the key died before it. */
  readonly recreate: (id: string) => Promise<APIGatewayProxyResult>;
}

/**
 * A request whose key is already claimed by the same request: replay a resolved operation, 409 an
 * operation in flight, or take an unresolved one over and carry it on.
 */
export async function resume<R extends MoneyRecord>(p: Resume<R>): Promise<APIGatewayProxyResult> {
  if (p.key.status === 'completed' && p.key.response) {
    return replayed({
      statusCode: p.key.response.statusCode,
      headers: { 'Content-Type': 'application/json' },
      body: p.key.response.body,
    });
  }
  if (typeof p.key.resource !== 'string') {
    // A key claimed before money core v2 whose request was never answered: its operation is the
    // old reconciler's to finish (docs/money.md, "Upgrading").
    throw inProgress();
  }
  const id = p.key.resource.slice(p.key.resource.indexOf('#') + 1);
  const now = hooks.now();
  const r = await p.kind.load(p.merchantId, id);
  if (!r) {
    if (p.key.created_ms + CLAIM_LEASE_MS > now) throw inProgress();
    return p.recreate(id);
  }
  if (!isUnresolved(r.status)) return replayed(await p.kind.answer(r));
  const charge = p.kind.chargeId(r);
  if (r.lease_owner && r.lease_until > now) throw inProgress(charge);
  try {
    await p.ensureMerchant();
  } catch (e) {
    throw pendingFailure(e, charge);
  }
  const taken = await take<R>(r, p.requestId, now, CLAIM_LEASE_MS).catch((e) => {
    throw pendingFailure(e, charge);
  });
  if (!taken) {
    const again = await p.kind.load(p.merchantId, id);
    if (again && !isUnresolved(again.status)) return replayed(await p.kind.answer(again));
    throw inProgress(charge);
  }
  await hooks.step('recorded', id);
  const driven = await drive(p.kind, taken.record, {
    owner: p.requestId,
    requestId: p.requestId,
    deadline: now + config.cloverTimeoutMs,
    first: false,
    settledAt: taken.settledAt,
    attempt: taken.record.attempt,
    reconciler: false,
  });
  return driven.response;
}

/** A key whose operation has stayed unresolved for long must outlive it (IDEMPOTENCY_TTL_S from now). */
export async function keepAlive(r: MoneyRecord, now: number): Promise<void> {
  if (now - Date.parse(r.created) < KEEP_KEY_AFTER_MS) return;
  await keepKeyAlive(r.merchant_id, r.client_key, r.sk, Math.floor(now / 1000) + IDEMPOTENCY_TTL_S);
}

export function isConditionFailure(e: unknown): boolean {
  return (
    e instanceof ConditionalCheckFailedException ||
    (e instanceof TransactionCanceledException &&
      (e.CancellationReasons ?? []).some((x) => x.Code === 'ConditionalCheckFailed'))
  );
}

/** A transaction lost a race with another one on the same item (not a condition): worth a retry. */
export function isTransactionConflict(e: unknown): boolean {
  return (
    e instanceof TransactionCanceledException &&
    (e.CancellationReasons ?? []).some((x) => x.Code === 'TransactionConflict') &&
    !(e.CancellationReasons ?? []).some((x) => x.Code === 'ConditionalCheckFailed')
  );
}

/**
 * Our side failed while an operation was under way, before its outcome was recorded: the caller is
 * told which charge is pending, so a retry or a look-up can follow it (API.md §1.3).
 */
export function pendingFailure(e: unknown, chargeId: string): unknown {
  if (e instanceof ApiError) {
    return e.extras.charge ? e : new ApiError(e.status, e.type, e.code, e.message, { ...e.extras, charge: chargeId });
  }
  if (isDependencyFailure(e)) return dependencyUnavailable(chargeId);
  logger.error('money operation failed on our side', { chargeId, error: (e as Error)?.name });
  return new ApiError(500, 'api_error', 'internal_error', 'An internal error occurred; the charge is pending.', {
    charge: chargeId,
  });
}
