/**
 * Clover app webhooks (clover-api.md §10.1): the verification handshake and batched events. An app
 * uninstall (`A:` + DELETE) disables the merchant, then schedules its OAuth secret for deletion and
 * flushes the authorizer cache so its keys stop at once — recorded and retried until done
 * (shared/uninstall.ts); its records are kept. Deliveries may be duplicated or arrive out of order:
 * each event is applied only if it is newer than the last one applied for that merchant
 * (shared/store/merchants.ts `applyUninstall`).
 *
 * Who may post (functions/webhooks): a request carrying the app's auth code in `X-Clover-Auth`;
 * and, only while no auth code is configured yet (the set-up step in docs/deploy.md), Clover's
 * unauthenticated `{"verificationCode"}` handshake — rate-limited, and logged in one line, so that
 * once ops have the code nobody can plant fake codes where they were told to read the real one.
 */
import * as v from 'valibot';
import { invalidRequest } from './http/errors';
import { isMerchantId } from './ids';
import { logger } from './log';
import { secretsEqual } from './secure-compare';
import { applyUninstall } from './store/merchants';
import { runUninstallFollowUps } from './uninstall';

const EventSchema = v.object({
  objectId: v.pipe(v.string(), v.maxLength(200)),
  type: v.pipe(v.string(), v.maxLength(20)),
  ts: v.pipe(v.number(), v.integer()),
});
const BatchSchema = v.object({
  appId: v.optional(v.string()),
  merchants: v.record(v.string(), v.array(EventSchema)),
});
/** Clover's verification codes are UUIDs; anything else is not logged at all. */
const VerificationSchema = v.strictObject({
  verificationCode: v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]{1,64}$/)),
});

export interface WebhookOutcome {
  verification?: true;
  uninstalled: string[];
  ignored: number;
  /** Uninstalls whose follow-ups failed and are retried by the token refresher. */
  followups_pending?: string[];
}

/**
 * `authenticated`: X-Clover-Auth equals the configured code (constant time). `unconfigured`: no
 * code is configured yet, so only the verification handshake can be accepted. `refused`: otherwise.
 */
export type WebhookAuth = 'authenticated' | 'unconfigured' | 'refused';

export function webhookAuth(configuredCode: string, given: string | undefined): WebhookAuth {
  if (!configuredCode) return 'unconfigured';
  return given !== undefined && secretsEqual(given, configuredCode) ? 'authenticated' : 'refused';
}

/** The verification code, when the body is a well-formed handshake and nothing else; else null. */
export function verificationCodeOf(body: Record<string, unknown>): string | null {
  const r = v.safeParse(VerificationSchema, body);
  return r.success ? r.output.verificationCode : null;
}

/** Ops paste this code into Clover's developer dashboard to verify the webhook URL: one line. */
export function logVerificationCode(code: string): void {
  logger.info('clover webhook verification code received', { verificationCode: code });
}

/** An authenticated delivery: a verification (logged) or an event batch. */
export async function handleWebhook(body: Record<string, unknown>): Promise<WebhookOutcome> {
  const verification = verificationCodeOf(body);
  if (verification !== null) {
    logVerificationCode(verification);
    return { verification: true, uninstalled: [], ignored: 0 };
  }
  const batch = v.safeParse(BatchSchema, body);
  if (!batch.success) {
    throw invalidRequest(
      'invalid_webhook',
      'The body is neither a verification nor an event batch.',
      batch.issues[0]?.path?.map((p) => String(p.key)).join('.'),
    );
  }
  const uninstalls = new Map<string, string>();
  let ignored = 0;
  for (const [merchantId, events] of Object.entries(batch.output.merchants)) {
    if (!isMerchantId(merchantId)) {
      ignored += events.length;
      continue;
    }
    // Oldest first, so that a batch holding an uninstall and a later event applies them in order.
    for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
      if (e.objectId.startsWith('A:') && e.type === 'DELETE') {
        const since = await applyUninstall(merchantId, e.ts);
        if (since) {
          uninstalls.set(merchantId, since);
          logger.info('merchant uninstalled the app; disabled', { merchantId });
        }
      } else {
        ignored++;
      }
    }
  }
  const followUps = await runUninstallFollowUps(uninstalls);
  return {
    uninstalled: [...uninstalls.keys()],
    ignored,
    ...(followUps.pending.length > 0 ? { followups_pending: followUps.pending } : {}),
  };
}
