/**
 * DynamoDB keys of the single table. The tenant is in every partition key (`MERCHANT#<id>`); the
 * one exception is the API-key lookup item, which must be found from the key alone.
 */
export const pk = {
  merchant: (merchantId: string) => `MERCHANT#${merchantId}`,
  apiKey: (hash: string) => `APIKEY#${hash}`,
};

export const sk = {
  merchant: 'MERCHANT',
  oauthLease: 'LEASE#OAUTH',
  apiKey: 'APIKEY',
  merchantKey: (keyId: string) => `KEY#${keyId}`,
  charge: (id: string) => `CHARGE#${id}`,
  refund: (id: string) => `REFUND#${id}`,
  capture: (id: string) => `CAPTURE#${id}`,
  /** The merchant's share of Clover's rate limits (shared/clover/budget.ts). */
  cloverBudget: 'CLOVER#BUDGET',
  session: (id: string) => `SESSION#${id}`,
  idempotency: (route: string, key: string) => `IDEM#${route}#${key}`,
};

/** GSI1 partitions: all merchants (for the token refresher). */
export const gsi1 = {
  merchants: 'MERCHANTS',
};
