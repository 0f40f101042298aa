// Everything the emulator remembers, and its persistence: one JSON file written atomically
// (temp file + rename), debounced, and once more on close. Maps, not plain objects, so that an
// id taken from a URL (`__proto__`, `constructor`) can never reach a prototype.

import { generateKeyPair } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import type { Brand, CardOutcome } from './cards';

export interface AppRecord {
  client_id: string;
  client_secret: string;
  /** Registered through the options: survives a reset. */
  from_options: boolean;
  created: number;
}

/**
 * An app's webhook registration (clover-api.md §10.1): the URL the developer entered, the
 * verification code Clover POSTed to it, and the auth code every notification then carries as
 * `X-Clover-Auth`; plus the merchants that have the app installed (an authorize installs, an
 * uninstall removes), so that install and uninstall events are sent once each.
 */
export interface AppWebhookRecord {
  client_id: string;
  url: string | null;
  verification_code: string | null;
  auth_code: string;
  installed_merchants: string[];
}

export interface MerchantRecord {
  merchant_id: string;
  public_key: string;
  private_key: string;
  created: number;
}

export interface AuthCodeRecord {
  code: string;
  client_id: string;
  merchant_id: string;
  redirect_uri: string;
  code_challenge: string | null;
  expires_at: number;
  used: boolean;
}

export interface AccessTokenRecord {
  token: string;
  client_id: string;
  merchant_id: string;
  created: number;
  expires_at: number;
  revoked: boolean;
}

export interface RefreshTokenRecord {
  token: string;
  client_id: string;
  merchant_id: string;
  created: number;
  expires_at: number;
  /** active → used (rotated) or revoked (cap exceeded, uninstall). */
  status: 'active' | 'used' | 'revoked';
}

export interface PakmsKeyRecord {
  apiAccessKey: string;
  merchant_id: string;
  app_id: string;
  active: boolean;
  createdTime: number;
  modifiedTime: number;
}

/** A card token keeps only what Clover shows back, plus the test-card outcome. Never the PAN or CVV. */
export interface CardTokenRecord {
  id: string;
  merchant_id: string;
  brand: Brand;
  first6: string;
  last4: string;
  exp_month: string;
  exp_year: string;
  outcome: CardOutcome;
  used: boolean;
  created: number;
}

export interface ChargeObject {
  id: string;
  object: 'charge';
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  tax_amount: number;
  tip_amount: number;
  currency: string;
  created: number;
  captured: boolean;
  paid: boolean;
  refunded: boolean;
  status: 'succeeded' | 'failed';
  description: string | null;
  external_reference_id: string | null;
  ecomind: string;
  metadata: Record<string, unknown> | null;
  order: string;
  ref_num: string | null;
  auth_code: string | null;
  outcome: { network_status: string; type: string };
  payment_method_details: 'card';
  source: {
    id: string;
    object: 'card';
    brand: Brand;
    exp_month: string;
    exp_year: string;
    first6: string;
    last4: string;
  };
  failure_code: string | null;
  failure_message: string | null;
  livemode: false;
}

export interface ChargeRecord {
  merchant_id: string;
  seq: number;
  charge: ChargeObject;
}

export interface RefundObject {
  id: string;
  object: 'refund';
  amount: number;
  charge: string;
  created: number;
  currency: string;
  status: 'succeeded';
  reason: string | null;
  external_reference_id: string | null;
  metadata: Record<string, unknown> | null;
}

export interface RefundRecord {
  merchant_id: string;
  seq: number;
  refund: RefundObject;
}

export interface IdempotencyRecord {
  merchant_id: string;
  key: string;
  fingerprint: string;
  status: number;
  body: unknown;
  at: number;
}

interface PersistedState {
  version: 1;
  rsa_private_key_pem: string;
  seq: number;
  apps: AppRecord[];
  merchants: MerchantRecord[];
  auth_codes: AuthCodeRecord[];
  access_tokens: AccessTokenRecord[];
  refresh_tokens: RefreshTokenRecord[];
  pakms: PakmsKeyRecord[];
  card_tokens: CardTokenRecord[];
  charges: ChargeRecord[];
  refunds: RefundRecord[];
  idempotency: IdempotencyRecord[];
  app_webhooks?: AppWebhookRecord[];
}

const generateRsa = promisify(generateKeyPair);

export async function newRsaPrivateKeyPem(): Promise<string> {
  const { privateKey } = await generateRsa('rsa', {
    modulusLength: 2048,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return privateKey;
}

export const pakmsKey = (merchantId: string, appId: string): string => `${merchantId}\u0000${appId}`;
export const idempotencyKey = (merchantId: string, key: string): string => `${merchantId}\u0000${key}`;

const SAVE_DEBOUNCE_MS = 50;

export class Store {
  seq = 0;
  readonly apps = new Map<string, AppRecord>();
  readonly merchants = new Map<string, MerchantRecord>();
  readonly authCodes = new Map<string, AuthCodeRecord>();
  readonly accessTokens = new Map<string, AccessTokenRecord>();
  readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  /** keyed by pakmsKey(merchant, app) */
  readonly pakms = new Map<string, PakmsKeyRecord>();
  readonly cardTokens = new Map<string, CardTokenRecord>();
  readonly charges = new Map<string, ChargeRecord>();
  readonly refunds = new Map<string, RefundRecord>();
  /** keyed by idempotencyKey(merchant, key) */
  readonly idempotency = new Map<string, IdempotencyRecord>();
  /** keyed by client_id; see AppWebhookRecord */
  readonly appWebhooks = new Map<string, AppWebhookRecord>();

  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly file: string | null,
    public rsaPrivateKeyPem: string,
    private readonly onSaveError: (err: unknown) => void,
  ) {}

  static async open(file: string | null, onSaveError: (err: unknown) => void = () => {}): Promise<Store> {
    const persisted = file ? await readState(file) : null;
    if (!persisted) {
      const store = new Store(file, await newRsaPrivateKeyPem(), onSaveError);
      store.changed();
      return store;
    }
    const store = new Store(file, persisted.rsa_private_key_pem, onSaveError);
    store.seq = persisted.seq;
    fill(store.apps, persisted.apps, (a) => a.client_id);
    fill(store.merchants, persisted.merchants, (m) => m.merchant_id);
    fill(store.authCodes, persisted.auth_codes, (c) => c.code);
    fill(store.accessTokens, persisted.access_tokens, (t) => t.token);
    fill(store.refreshTokens, persisted.refresh_tokens, (t) => t.token);
    fill(store.pakms, persisted.pakms, (k) => pakmsKey(k.merchant_id, k.app_id));
    fill(store.cardTokens, persisted.card_tokens, (t) => t.id);
    fill(store.charges, persisted.charges, (c) => c.charge.id);
    fill(store.refunds, persisted.refunds, (r) => r.refund.id);
    fill(store.idempotency, persisted.idempotency, (r) => idempotencyKey(r.merchant_id, r.key));
    fill(store.appWebhooks, persisted.app_webhooks, (w) => w.client_id);
    return store;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  /** Forget everything but the RSA key (clients cache keys.json) and the apps from the options. */
  reset(): void {
    for (const [id, app] of this.apps) if (!app.from_options) this.apps.delete(id);
    this.merchants.clear();
    this.authCodes.clear();
    this.accessTokens.clear();
    this.refreshTokens.clear();
    this.pakms.clear();
    this.cardTokens.clear();
    this.charges.clear();
    this.refunds.clear();
    this.idempotency.clear();
    // An options app keeps its webhook registration, as it keeps itself; no merchant has it installed.
    for (const [id, w] of this.appWebhooks) {
      if (this.apps.has(id)) w.installed_merchants = [];
      else this.appWebhooks.delete(id);
    }
    this.changed();
  }

  /** Drop records nobody can use any more. */
  prune(now: number, idempotencyRetentionMs: number): void {
    const DAY = 86_400_000;
    for (const [k, c] of this.authCodes) if (c.used || c.expires_at < now - DAY) this.authCodes.delete(k);
    for (const [k, t] of this.accessTokens) if (t.revoked || t.expires_at < now - DAY) this.accessTokens.delete(k);
    for (const [k, t] of this.refreshTokens)
      if (t.status !== 'active' || t.expires_at < now) this.refreshTokens.delete(k);
    for (const [k, r] of this.idempotency) if (r.at + idempotencyRetentionMs < now) this.idempotency.delete(k);
  }

  /** Schedule a save (no-op in memory-only mode). */
  changed(): void {
    if (!this.file || this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save();
    }, SAVE_DEBOUNCE_MS);
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.closed = true;
    await this.save();
  }

  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const text = JSON.stringify(this.snapshot());
    // Writes are chained so that an older snapshot can never overwrite a newer one.
    this.writing = this.writing.then(() => writeAtomically(file, text)).catch(this.onSaveError);
    return this.writing;
  }

  private snapshot(): PersistedState {
    return {
      version: 1,
      rsa_private_key_pem: this.rsaPrivateKeyPem,
      seq: this.seq,
      apps: [...this.apps.values()],
      merchants: [...this.merchants.values()],
      auth_codes: [...this.authCodes.values()],
      access_tokens: [...this.accessTokens.values()],
      refresh_tokens: [...this.refreshTokens.values()],
      pakms: [...this.pakms.values()],
      card_tokens: [...this.cardTokens.values()],
      charges: [...this.charges.values()],
      refunds: [...this.refunds.values()],
      idempotency: [...this.idempotency.values()],
      app_webhooks: [...this.appWebhooks.values()],
    };
  }
}

function fill<T>(map: Map<string, T>, items: T[] | undefined, key: (item: T) => string): void {
  for (const item of items ?? []) map.set(key(item), item);
}

async function readState(file: string): Promise<PersistedState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`Clover emulator: ${file} is not valid JSON; move it away to start afresh`);
  }
  const state = parsed as Partial<PersistedState> | null;
  if (state?.version !== 1 || typeof state.rsa_private_key_pem !== 'string') {
    throw new Error(`Clover emulator: ${file} is not an emulator state file (version 1)`);
  }
  return state as PersistedState;
}

let tempCounter = 0;

async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  tempCounter += 1;
  const temp = `${file}.${process.pid}.${tempCounter}.tmp`;
  await writeFile(temp, text, { mode: 0o600 });
  await rename(temp, file);
}
