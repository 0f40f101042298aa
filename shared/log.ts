import { Logger } from '@aws-lambda-powertools/logger';
import { redact } from './redact';

/**
 * One logger per container. It never logs events or bodies (a card number could be in them); what
 * it logs passes through `redact` first, so a number that slipped into a message is still masked.
 */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'clover-payments',
  logLevel: (process.env.LOG_LEVEL as 'INFO' | 'DEBUG' | 'WARN' | 'ERROR' | undefined) ?? 'INFO',
  jsonReplacerFn: (_key: string, value: unknown) => (typeof value === 'string' ? redact(value) : value),
});
