/**
 * DynamoDB keys of the single table. The tenant is in every partition key (`MERCHANT#<id>`); the
 * exceptions are items that must be found before any merchant is known: the API-key lookup item
 * (found from the key alone), a used OAuth launch state, and the webhook verification counter.
 */
export const pk = {
  merchant: (merchantId: string) => `MERCHANT#${merchantId}`,
  apiKey: (hash: string) => `APIKEY#${hash}`,
  /** A used OAuth launch `state` (its nonce), kept until the state expires. */
  oauthState: (nonce: string) => `OAUTHSTATE#${nonce}`,
  /** Global counters: unauthenticated webhook verification posts per minute. */
  webhookVerification: 'WEBHOOK#VERIFICATION',
  /** Declines per publishable key / per shopper IP, in fixed windows (shared/payments/velocity.ts). */
  velocityKey: (keyId: string) => `VELOCITY#KEY#${keyId}`,
  velocityIp: (ip: string) => `VELOCITY#IP#${ip}`,
};

export const sk = {
  merchant: 'MERCHANT',
  oauthLease: 'LEASE#OAUTH',
  apiKey: 'APIKEY',
  oauthState: 'STATE',
  window: (epochMinute: number) => `WINDOW#${epochMinute}`,
  /** A velocity window, by the epoch second it starts at. */
  velocityWindow: (startS: number) => `WINDOW#${startS}`,
  merchantKey: (keyId: string) => `KEY#${keyId}`,
  /** An audit record of a key's creation or revocation (shared/store/api-keys.ts). */
  audit: (atIso: string, unique: string) => `AUDIT#${atIso}#${unique}`,
  charge: (id: string) => `CHARGE#${id}`,
  refund: (id: string) => `REFUND#${id}`,
  capture: (id: string) => `CAPTURE#${id}`,
  /** The merchant's share of Clover's rate limits (shared/clover/budget.ts). */
  cloverBudget: 'CLOVER#BUDGET',
  session: (id: string) => `SESSION#${id}`,
  idempotency: (route: string, key: string) => `IDEM#${route}#${key}`,
};

/**
 * Partition-key patterns for IAM's `dynamodb:LeadingKeys` (infra/house-function.ts `useTable`): which
 * kinds of item a function may touch at all. Index queries are checked against the index's
 * partition key, so the GSI1 partitions appear here too.
 */
export const leadingKeys = {
  merchants: 'MERCHANT#*',
  apiKeys: 'APIKEY#*',
  oauthStates: 'OAUTHSTATE#*',
  webhookVerification: 'WEBHOOK#VERIFICATION',
  merchantsIndex: 'MERCHANTS',
  velocity: 'VELOCITY#*',
} as const;

/**
 * What a payment path reads of a merchant record (shared/store/merchants.ts `getMerchantSummary`):
 * the roles of the functions that need nothing more (tokens, checkout-config) may read nothing
 * more (`dynamodb:Attributes`, infra/functions.ts), keys included.
 */
export const merchantSummaryAttributes = ['pk', 'sk', 'merchant_id', 'status', 'pakms_key'] as const;

/** GSI1 partitions: all merchants (for the token refresher). */
export const gsi1 = {
  merchants: 'MERCHANTS',
};
