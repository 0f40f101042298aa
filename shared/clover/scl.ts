/** Clover's ecommerce service (SCL): charges, captures, refunds (clover-api.md §5). */

import { config } from '../config';
import { CloverHttp, type CloverResult } from './client';
import { deploymentHosts } from './hosts';

export const cloverHttp = new CloverHttp({
  get timeoutMs() {
    return config.cloverTimeoutMs;
  },
});

export interface CloverCharge {
  id: string;
  amount?: number;
  amount_captured?: number;
  amount_refunded?: number;
  currency?: string;
  captured?: boolean | string;
  paid?: boolean | string;
  status?: string;
  created?: number;
  metadata?: Record<string, unknown> | null;
  ref_num?: string | number;
  auth_code?: string | number;
  order?: string;
  source?: {
    brand?: string;
    first6?: string | number;
    last4?: string | number;
    exp_month?: string | number;
    exp_year?: string | number;
  };
}

export interface CloverRefund {
  id: string;
  amount?: number;
  charge?: string;
  currency?: string;
  status?: string;
  metadata?: Record<string, unknown> | null;
}

export interface CloverList<T> {
  object?: string;
  data?: T[];
  has_more?: boolean;
}

interface Call {
  token: string;
  idempotencyKey: string;
  forwardedFor?: string;
  deadline?: number;
}

function headers(c: Call): Record<string, string> {
  return {
    Authorization: `Bearer ${c.token}`,
    'idempotency-key': c.idempotencyKey,
    ...(c.forwardedFor ? { 'x-forwarded-for': c.forwardedFor } : {}),
  };
}

export function createCharge(c: Call, body: Record<string, unknown>): Promise<CloverResult<CloverCharge>> {
  return cloverHttp.send({
    method: 'POST',
    url: `${deploymentHosts().scl}/v1/charges`,
    headers: headers(c),
    body,
    deadline: c.deadline,
    retryRateLimited: false,
  });
}

export function captureCharge(
  c: Call,
  cloverChargeId: string,
  body: Record<string, unknown>,
): Promise<CloverResult<CloverCharge>> {
  return cloverHttp.send({
    method: 'POST',
    url: `${deploymentHosts().scl}/v1/charges/${encodeURIComponent(cloverChargeId)}/capture`,
    headers: headers(c),
    body,
    deadline: c.deadline,
    retryRateLimited: false,
  });
}

export function getCloverCharge(
  token: string,
  cloverChargeId: string,
  deadline?: number,
): Promise<CloverResult<CloverCharge>> {
  return cloverHttp.send({
    method: 'GET',
    url: `${deploymentHosts().scl}/v1/charges/${encodeURIComponent(cloverChargeId)}`,
    headers: { Authorization: `Bearer ${token}` },
    deadline,
    retryRateLimited: false,
  });
}

/** `GET /v1/charges?created.gte=…` (clover-api.md §5.3): a page of charges, newest first. */
export function listCloverCharges(
  token: string,
  q: { createdGte: number; startingAfter?: string; limit?: number },
  deadline?: number,
): Promise<CloverResult<CloverList<CloverCharge>>> {
  const query = new URLSearchParams({ 'created.gte': String(q.createdGte), limit: String(q.limit ?? 100) });
  if (q.startingAfter) query.set('starting_after', q.startingAfter);
  return cloverHttp.send({
    method: 'GET',
    url: `${deploymentHosts().scl}/v1/charges?${query}`,
    headers: { Authorization: `Bearer ${token}` },
    deadline,
    retryRateLimited: false,
  });
}

/** `GET /v1/refunds?charge=…` (clover-api.md §5.4): a page of a charge's refunds, newest first. */
export function listCloverRefunds(
  token: string,
  q: { charge: string; startingAfter?: string; limit?: number },
  deadline?: number,
): Promise<CloverResult<CloverList<CloverRefund>>> {
  const query = new URLSearchParams({ charge: q.charge, limit: String(q.limit ?? 100) });
  if (q.startingAfter) query.set('starting_after', q.startingAfter);
  return cloverHttp.send({
    method: 'GET',
    url: `${deploymentHosts().scl}/v1/refunds?${query}`,
    headers: { Authorization: `Bearer ${token}` },
    deadline,
    retryRateLimited: false,
  });
}

export function createRefund(c: Call, body: Record<string, unknown>): Promise<CloverResult<CloverRefund>> {
  return cloverHttp.send({
    method: 'POST',
    url: `${deploymentHosts().scl}/v1/refunds`,
    headers: headers(c),
    body,
    deadline: c.deadline,
    retryRateLimited: false,
  });
}

export const str = (x: unknown): string | null => (x === undefined || x === null ? null : String(x));
