/**
 * Deployment stages. Everything that differs between a sandbox and a production deployment is
 * decided here, from CDK context (`cdk deploy -c stage=production -c storefrontOrigins=…`), so
 * the constructs read one object instead of branching on the stage name themselves.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

export type StageName = 'sandbox' | 'production';

export interface StageConfig {
  readonly name: StageName;
  /** Clover environment this stage talks to; sandbox keys are `*_test_*`, production keys `*_live_*`. */
  readonly cloverEnvironment: 'sandbox' | 'production';
  readonly keyMode: 'test' | 'live';
  /** Prefix of every physical name, so two stages can share one account. */
  readonly prefix: string;
  readonly logRetention: RetentionDays;
  /** Data, keys and logs: RETAIN in production, DESTROY in sandbox (a sandbox is torn down whole). */
  readonly removalPolicy: RemovalPolicy;
  readonly deletionProtection: boolean;
  /** Browser origins allowed to call the publishable-key routes (CORS). Empty: no CORS at all. */
  readonly storefrontOrigins: readonly string[];
  /**
   * Opt-in: let storefront pages call POST /v1/tokens from the browser (CORS). Off by default:
   * page JavaScript that posts raw card numbers puts the merchant's site in PCI DSS scope for
   * handling PANs (SAQ D instead of SAQ A); the hosted iframe keeps card data off the page.
   * README "Card data and PCI scope".
   */
  readonly tokensCors: boolean;
  /**
   * Optional custom domain (`-c domainName=api.example.com -c certificateArn=arn:aws:acm:…`):
   * a regional API Gateway domain with the TLS 1.2 security policy, and the default execute-api
   * endpoint (which accepts TLS 1.0) disabled, so that every client — card numbers on
   * POST /v1/tokens included — reaches the API over TLS 1.2 or later. docs/deploy.md.
   */
  readonly customDomain: { readonly domainName: string; readonly certificateArn: string } | null;
  /** Per-API-key requests per second, averaged over a minute (WAF RatePerKey); 0 turns the rule off. */
  readonly merchantRateLimit: number;
  /** Whole-stage steady rate and burst (API Gateway stage throttling). */
  readonly stageRateLimit: number;
  readonly stageBurstLimit: number;
  /** WAF: requests per IP per 5 minutes before the rate rule blocks. */
  readonly ipRateLimitPer5Min: number;
  /** Alarm when the oldest pending charge is older than this. */
  readonly pendingChargeAlarmMinutes: number;
}

const DEFAULTS = {
  merchantRateLimit: 16, // Clover allows 16 requests/s per OAuth token (anchors §1.1)
  stageRateLimit: 100,
  stageBurstLimit: 200,
  ipRateLimitPer5Min: 6000, // above one merchant's 16 rps × 300 s, so a busy storefront server is not cut off
  pendingChargeAlarmMinutes: 15,
} as const;

export function stageConfig(node: Node): StageConfig {
  const raw = String(node.tryGetContext('stage') ?? 'sandbox');
  if (raw !== 'sandbox' && raw !== 'production') {
    throw new Error(`context "stage" must be "sandbox" or "production", got "${raw}"`);
  }
  const production = raw === 'production';
  return {
    name: raw,
    cloverEnvironment: raw,
    keyMode: production ? 'live' : 'test',
    prefix: `clover-payments-${raw}`,
    // PCI DSS 10.7: one year of audit history; a sandbox keeps a month.
    logRetention: production ? RetentionDays.ONE_YEAR : RetentionDays.ONE_MONTH,
    removalPolicy: production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    deletionProtection: production,
    storefrontOrigins: origins(node.tryGetContext('storefrontOrigins')),
    tokensCors: flag(node, 'tokensCors'),
    customDomain: customDomain(node),
    merchantRateLimit: nonNegative(node, 'merchantRateLimit', DEFAULTS.merchantRateLimit),
    stageRateLimit: nonNegative(node, 'stageRateLimit', DEFAULTS.stageRateLimit),
    stageBurstLimit: nonNegative(node, 'stageBurstLimit', DEFAULTS.stageBurstLimit),
    ipRateLimitPer5Min: nonNegative(node, 'ipRateLimitPer5Min', DEFAULTS.ipRateLimitPer5Min),
    pendingChargeAlarmMinutes: nonNegative(node, 'pendingChargeAlarmMinutes', DEFAULTS.pendingChargeAlarmMinutes),
  };
}

function origins(value: unknown): string[] {
  if (value === undefined || value === null || value === '') return [];
  const list = Array.isArray(value) ? value.map(String) : String(value).split(',');
  const out = list.map((o) => o.trim()).filter((o) => o !== '');
  for (const o of out) {
    // An origin is scheme://host[:port]; a path or a wildcard would widen CORS past what was meant.
    if (!/^https?:\/\/[a-z0-9.-]+(:\d+)?$/i.test(o)) {
      throw new Error(`context "storefrontOrigins": "${o}" is not an origin like https://shop.example.com`);
    }
  }
  return out;
}

function flag(node: Node, key: string): boolean {
  const v = node.tryGetContext(key);
  if (v === undefined || v === null || v === '' || v === false || v === 'false') return false;
  if (v === true || v === 'true') return true;
  throw new Error(`context "${key}" must be true or false, got "${String(v)}"`);
}

function customDomain(node: Node): StageConfig['customDomain'] {
  const domainName = node.tryGetContext('domainName');
  const certificateArn = node.tryGetContext('certificateArn');
  if (!domainName && !certificateArn) return null;
  if (!domainName || !certificateArn) {
    throw new Error('context "domainName" and "certificateArn" go together: a custom domain needs its ACM certificate');
  }
  if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(String(domainName))) {
    throw new Error(`context "domainName": "${String(domainName)}" is not a lower-case host name like api.example.com`);
  }
  if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(String(certificateArn))) {
    throw new Error(`context "certificateArn": "${String(certificateArn)}" is not an ACM certificate ARN`);
  }
  return { domainName: String(domainName), certificateArn: String(certificateArn) };
}

function nonNegative(node: Node, key: string, fallback: number): number {
  const v = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`context "${key}" must be a number ≥ 0, got "${String(v)}"`);
  return n;
}
