/**
 * Clover app webhooks (clover-api.md §10.1): the verification handshake and batched events. An app
 * uninstall (`A:` + DELETE) disables the merchant, schedules its OAuth secret for deletion and
 * flushes the authorizer cache so its keys stop at once; its records are kept. Deliveries may be
 * duplicated or arrive out of order: each event is applied only if it is newer than the last one
 * applied for that merchant (shared/store/merchants.ts `applyUninstall`).
 */
import * as v from 'valibot';
import { flushAuthorizerCache } from './authorizer-cache';
import { invalidRequest } from './http/errors';
import { isMerchantId } from './ids';
import { logger } from './log';
import { scheduleMerchantTokensDeletion } from './secrets/merchant-tokens';
import { applyUninstall } from './store/merchants';

const EventSchema = v.object({
  objectId: v.pipe(v.string(), v.maxLength(200)),
  type: v.pipe(v.string(), v.maxLength(20)),
  ts: v.pipe(v.number(), v.integer()),
});
const BatchSchema = v.object({
  appId: v.optional(v.string()),
  merchants: v.record(v.string(), v.array(EventSchema)),
});
const VerificationSchema = v.object({ verificationCode: v.pipe(v.string(), v.maxLength(200)) });

export interface WebhookOutcome {
  verification?: true;
  uninstalled: string[];
  ignored: number;
}

export async function handleWebhook(body: Record<string, unknown>): Promise<WebhookOutcome> {
  const verification = v.safeParse(VerificationSchema, body);
  if (verification.success) {
    // Ops paste this code into Clover's developer dashboard to verify the webhook URL.
    logger.info('clover webhook verification code received', {
      verificationCode: verification.output.verificationCode,
    });
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
  const uninstalled: string[] = [];
  let ignored = 0;
  for (const [merchantId, events] of Object.entries(batch.output.merchants)) {
    if (!isMerchantId(merchantId)) {
      ignored += events.length;
      continue;
    }
    // Oldest first, so that a batch holding an uninstall and a later event applies them in order.
    for (const e of [...events].sort((a, b) => a.ts - b.ts)) {
      if (e.objectId.startsWith('A:') && e.type === 'DELETE') {
        if (await applyUninstall(merchantId, e.ts)) {
          uninstalled.push(merchantId);
          await scheduleMerchantTokensDeletion(merchantId);
          logger.info('merchant uninstalled the app; disabled', { merchantId });
        }
      } else {
        ignored++;
      }
    }
  }
  if (uninstalled.length > 0) await flushAuthorizerCache();
  return { uninstalled, ignored };
}
