/**
 * Every Lambda function and exactly what it may touch. The table below is the permission matrix
 * of the system; change a line here and the tests in test/infra/iam.test.ts say what moved.
 *
 * | function          | table (partition keys)             | app secret | merchant secrets        | other                  |
 * |-------------------|------------------------------------|------------|-------------------------|------------------------|
 * | health            | –                                  | –          | –                       |                        |
 * | authorizer        | GetItem (APIKEY#, MERCHANT#)       | –          | –                       |                        |
 * | tokens            | GetItem (MERCHANT#; summary attrs) | –          | –                       | (PAN path)             |
 * | checkout-config   | GetItem (MERCHANT#; summary attrs) | –          | –                       |                        |
 * | oauth-callback    | readwrite (MERCHANT#, OAUTHSTATE#) | read       | manage: get/create/put/ |                        |
 * |                   |                                    |            | update/restore          |                        |
 * | webhooks          | readwrite (MERCHANT#, WEBHOOK#…)   | read       | delete, recoverable only| flush authorizer cache |
 * | token-refresher   | readwrite (MERCHANT#, MERCHANTS)   | read       | refresh: get/put;       | flush authorizer cache |
 * |                   |                                    |            | delete, recoverable only| (uninstall follow-ups) |
 * | charges, refunds, | readwrite                          | read       | refresh: get/put (once, |                        |
 * | checkout-sessions,|                                    |            | on a Clover 401)        |                        |
 * | reconciler        |                                    |            |                         |                        |
 * | events-api        | readwrite                          | –          | –                       |                        |
 * | event-publisher   | readwrite                          | –          | –                       | table stream, event bus,|
 * |                   |                                    |            |                         | stream DLQ (send)      |
 * | event-deliverer   | readwrite                          | –          | –                       | table stream, stream DLQ|
 *
 * tokens sees card numbers (the API-only flow), so it gets the smallest role: GetItem of a merchant
 * record's summary (merchant id, status, PAKMS key) and nothing else — no other item, no other
 * attribute, no Secrets Manager, no writes. It learns Clover's hosts from CLOVER_ENVIRONMENT, not
 * from the app secret. checkout-config has the same role: it never needed the app secret either.
 */
import { Duration } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { FunctionName } from '../shared/routes';
import { leadingKeys, merchantSummaryAttributes } from '../shared/store/keys';
import type { StageConfig } from './config';
import type { Data } from './data';
import { CLOVER_TIMEOUT_MS, cloverCallsTimeout, HouseFunction } from './house-function';
import type { Secrets } from './secrets';

interface Spec {
  readonly description: string;
  readonly timeout: Duration;
  /** Calls Clover: gets CLOVER_TIMEOUT_MS so the client timeout and the Lambda timeout stay paired. */
  readonly clover: boolean;
}

/** API functions make one Clover call (8 s) plus DynamoDB: 10 s. */
const SPECS: Record<FunctionName, Spec> = {
  health: { description: 'GET /health', timeout: Duration.seconds(3), clover: false },
  authorizer: { description: 'REQUEST authorizer: API key → merchant', timeout: Duration.seconds(5), clover: false },
  'oauth-callback': {
    description: 'Merchant onboarding: launch redirect, OAuth code exchange, merchant proof, PAKMS key',
    // Three Clover calls in a row (token exchange, GET /v3/merchants, PAKMS): 3 × 8 s + margin, under API Gateway's 29 s.
    timeout: cloverCallsTimeout(3),
    clover: true,
  },
  webhooks: { description: 'Clover app webhooks', timeout: cloverCallsTimeout(1), clover: false },
  'checkout-config': { description: 'GET /v1/checkout-config', timeout: cloverCallsTimeout(1), clover: false },
  tokens: { description: 'POST /v1/tokens (API-only card tokenization)', timeout: cloverCallsTimeout(1), clover: true },
  charges: { description: 'Charges: create, read, list, capture', timeout: cloverCallsTimeout(1), clover: true },
  refunds: { description: 'Refunds', timeout: cloverCallsTimeout(1), clover: true },
  'checkout-sessions': { description: 'Checkout sessions and pay', timeout: cloverCallsTimeout(1), clover: true },
  // Scheduled sweeps: a run must end before the next tick starts another.
  'token-refresher': {
    description: 'Refreshes OAuth tokens before expiry (every 5 min)',
    timeout: Duration.seconds(120),
    clover: true,
  },
  reconciler: { description: 'Resolves pending charges (every minute)', timeout: Duration.seconds(50), clover: true },
  'events-api': { description: 'Webhook endpoints and events API', timeout: Duration.seconds(10), clover: false },
  // A batch of up to 100 changes: a few writes each.
  'event-publisher': {
    description: 'Table stream → events, webhook deliveries, event bus',
    timeout: Duration.seconds(60),
    clover: false,
  },
  // Attempts take up to 10 s each, 10 at a time; the sweep stops before its timeout.
  'event-deliverer': {
    description: 'Delivers signed webhooks (stream: first attempt; every minute: retries)',
    timeout: Duration.seconds(55),
    clover: false,
  },
};

export class Functions extends Construct {
  private readonly byName = new Map<FunctionName, HouseFunction>();

  constructor(scope: Construct, id: string, props: { stage: StageConfig; data: Data; secrets: Secrets; logKey: IKey }) {
    super(scope, id);
    const { stage, data, secrets, logKey } = props;

    for (const [name, spec] of Object.entries(SPECS) as [FunctionName, Spec][]) {
      const fn = new HouseFunction(this, pascal(name), {
        name,
        description: spec.description,
        stage,
        logKey,
        timeout: spec.timeout,
        environment: spec.clover ? { CLOVER_TIMEOUT_MS: String(CLOVER_TIMEOUT_MS) } : {},
      });
      this.byName.set(name, fn);
    }

    const app = secrets.appSecret;
    const lk = leadingKeys;
    // The card-data function and the config function read one merchant record's summary, nothing else.
    const merchantSummary = { leadingKeys: [lk.merchants], attributes: merchantSummaryAttributes };
    this.get('authorizer').useTable(data, 'get', { leadingKeys: [lk.apiKeys, lk.merchants] });
    this.get('tokens').useTable(data, 'get', merchantSummary);
    this.get('checkout-config').useTable(data, 'get', merchantSummary);
    this.get('oauth-callback')
      .useTable(data, 'readwrite', { leadingKeys: [lk.merchants, lk.oauthStates] })
      .useAppSecret(app, secrets.key)
      .useMerchantSecrets(secrets, 'manage');
    this.get('webhooks')
      .useTable(data, 'readwrite', { leadingKeys: [lk.merchants, lk.webhookVerification] })
      .useAppSecret(app, secrets.key)
      .useMerchantSecretDeletion(secrets);
    // The refresher also re-runs uninstall follow-ups that failed (secret deletion, cache flush).
    this.get('token-refresher')
      .useTable(data, 'readwrite', { leadingKeys: [lk.merchants, lk.merchantsIndex] })
      .useAppSecret(app, secrets.key)
      .useMerchantSecrets(secrets, 'refresh')
      .useMerchantSecretDeletion(secrets);
    // TODO(integrator): the payment functions are being rewritten; scope them with leadingKeys too
    // once their key prefixes settle (MERCHANT#*, the pending-charges index, the decline counters).
    this.get('events-api').useTable(data, 'readwrite');
    this.get('event-publisher').useTable(data, 'readwrite');
    this.get('event-deliverer').useTable(data, 'readwrite');
    for (const name of ['charges', 'refunds', 'checkout-sessions', 'reconciler'] as const) {
      this.get(name).useTable(data, 'readwrite').useAppSecret(app, secrets.key).useMerchantSecrets(secrets, 'refresh');
    }
  }

  get(name: FunctionName): HouseFunction {
    const fn = this.byName.get(name);
    if (!fn) throw new Error(`no function ${name}`);
    return fn;
  }

  all(): HouseFunction[] {
    return [...this.byName.values()];
  }
}

function pascal(s: string): string {
  return s.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}
