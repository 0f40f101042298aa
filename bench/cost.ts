/**
 * Phase 5: AWS cost per million charges, from the list prices and the cost formula of
 * infra/prices.ts (the single source), with measured figures in place of its assumptions.
 * Pure: unit-tested in test/unit/bench.
 */
import {
  type ChargeAssumptions,
  type CostLine,
  costPerMillionCharges,
  defaultChargeAssumptions,
  prices,
  total,
} from '../infra/prices';

export interface Measured {
  /** Configured memory of the charges and authorizer functions (template MemorySize). */
  readonly chargesMemoryMb: number;
  readonly authorizerMemoryMb: number;
  /** Warm handler overhead of a charge, p50 (handler − the same Clover call made directly). */
  readonly chargeOverheadMs: number;
  /** Warm authorizer duration on an API Gateway cache miss, p50. */
  readonly authorizerMs: number;
  /** Cold start: process time to start Node and import the charges bundle. */
  readonly initMs: number;
  /** Warm charge, counted at DynamoDB: capacity units. */
  readonly warmWriteUnits: number;
  readonly warmReadUnits: number;
  /** Cold charge (empty container caches). */
  readonly coldWriteUnits: number;
  readonly coldReadUnits: number;
  readonly warmSecretsCalls: number;
  readonly coldSecretsCalls: number;
  /** Authorizer on a cache miss: read units. */
  readonly authorizerReadUnits: number;
}

export interface Scenario {
  /** Clover's round trip for a charge (ms). */
  readonly cloverMs: number;
  /** Share of invocations that are cold starts (INIT billed). */
  readonly coldStartFraction: number;
  /**
   * Share of charges that find the container's merchant record and OAuth tokens missing or
   * expired (cold starts included): those make the cold path's reads and Secrets Manager call.
   */
  readonly cacheMissFraction: number;
  /** Authorizer invocations per charge: 1 = every request misses API Gateway's authorizer cache. */
  readonly authorizerInvocations: number;
  /** Override the configured memory of both functions (what-if). */
  readonly memoryMb?: number;
}

/** The defaults of infra/prices.ts where we measure nothing (and 400 ms for Clover). */
export const baseScenario: Scenario = {
  cloverMs: 400,
  coldStartFraction: defaultChargeAssumptions.coldStartFraction,
  cacheMissFraction: defaultChargeAssumptions.secretsManagerCalls,
  authorizerInvocations: defaultChargeAssumptions.authorizerInvocations,
};

/** KMS requests per charge that DynamoDB makes for the table key (prices.ts: total minus one per GetSecretValue). */
export const dynamoKmsPerCharge = Math.max(
  0,
  defaultChargeAssumptions.kmsRequests - defaultChargeAssumptions.secretsManagerCalls,
);

export function assumptionsFrom(m: Measured, s: Scenario): ChargeAssumptions {
  const miss = s.cacheMissFraction;
  const smCalls = m.warmSecretsCalls + miss * Math.max(0, m.coldSecretsCalls - m.warmSecretsCalls);
  return {
    ...defaultChargeAssumptions,
    apiRequests: 1,
    authorizerInvocations: s.authorizerInvocations,
    // prices.ts bills both functions at one memory size; the stack gives them the same (HouseFunction default).
    memoryMb: s.memoryMb ?? Math.max(m.chargesMemoryMb, m.authorizerMemoryMb),
    chargeDurationMs: Math.max(0, m.chargeOverheadMs) + s.cloverMs,
    authorizerDurationMs: m.authorizerMs,
    coldStartFraction: s.coldStartFraction,
    initDurationMs: m.initMs,
    dynamoWriteUnits: m.warmWriteUnits + miss * Math.max(0, m.coldWriteUnits - m.warmWriteUnits),
    dynamoReadUnits:
      m.warmReadUnits +
      miss * Math.max(0, m.coldReadUnits - m.warmReadUnits) +
      s.authorizerInvocations * m.authorizerReadUnits,
    secretsManagerCalls: smCalls,
    kmsRequests: smCalls + dynamoKmsPerCharge,
    wafRequests: 1,
  };
}

export interface CostResult {
  readonly assumptions: ChargeAssumptions;
  readonly lines: CostLine[];
  /** Lambda (requests + duration), DynamoDB, Secrets Manager, KMS: the target's sum. */
  readonly targetLines: CostLine[];
  readonly targetUsd: number;
  /** API Gateway, WAF and log ingestion, reported beside the target. */
  readonly besideLines: CostLine[];
  readonly besideUsd: number;
  readonly totalUsd: number;
}

const IN_TARGET = /^(Lambda|DynamoDB|Secrets Manager|KMS)/;

export function costModel(m: Measured, s: Scenario = baseScenario): CostResult {
  const assumptions = assumptionsFrom(m, s);
  const lines = costPerMillionCharges(assumptions);
  const targetLines = lines.filter((l) => IN_TARGET.test(l.item));
  const besideLines = lines.filter((l) => !IN_TARGET.test(l.item));
  return {
    assumptions,
    lines,
    targetLines,
    targetUsd: total(targetLines),
    besideLines,
    besideUsd: total(besideLines),
    totalUsd: total(lines),
  };
}

export { prices };
