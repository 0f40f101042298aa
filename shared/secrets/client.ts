import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requestHandler } from '../aws';

/**
 * The Secrets Manager client, in a module of its own: only functions that read secrets import it,
 * so the tokens function's bundle (whose role may not call Secrets Manager) does not contain it.
 */
export const secretsManager = new SecretsManagerClient({ maxAttempts: 3, requestHandler });
