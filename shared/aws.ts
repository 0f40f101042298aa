/**
 * AWS clients, created once per container and shared. Endpoints come from the SDK's own
 * `AWS_ENDPOINT_URL_*` variables, so the local platform differs from AWS by configuration alone.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export const requestHandler = { connectionTimeout: 1000, requestTimeout: 3000 } as const;

export const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 3, requestHandler }), {
  marshallOptions: { removeUndefinedValues: true },
});
