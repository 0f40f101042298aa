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
  amount_refunded?: number;
  captured?: boolean | string;
  status?: string;
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
  status?: string;
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
  });
}

export function getCloverCharge(token: string, cloverChargeId: string): Promise<CloverResult<CloverCharge>> {
  return cloverHttp.send({
    method: 'GET',
    url: `${deploymentHosts().scl}/v1/charges/${encodeURIComponent(cloverChargeId)}`,
    headers: { Authorization: `Bearer ${token}` },
  });
}

export function createRefund(c: Call, body: Record<string, unknown>): Promise<CloverResult<CloverRefund>> {
  return cloverHttp.send({
    method: 'POST',
    url: `${deploymentHosts().scl}/v1/refunds`,
    headers: headers(c),
    body,
    deadline: c.deadline,
  });
}

export const str = (x: unknown): string | null => (x === undefined || x === null ? null : String(x));
