/**
 * AWS clients, created once per container and shared. Endpoints come from the SDK's own
 * `AWS_ENDPOINT_URL_*` variables, so the local platform differs from AWS by configuration alone.
 */
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 } as const;

export const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3, requestHandler }), {
  marshallOptions: { removeUndefinedValues: true },
});

export const secretsManager = new SecretsManagerClient({ maxAttempts: 3, requestHandler });

let apiGateway: APIGatewayClient | undefined;
/** Created on first use: only the key-revoking paths need it. */
export function apiGatewayClient(): APIGatewayClient {
  apiGateway ??= new APIGatewayClient({ maxAttempts: 2, requestHandler });
  return apiGateway;
}
