// Uninstall follow-ups (shared/uninstall.ts): secret deletion and the authorizer-cache flush, each
// idempotent; the record clears only when both succeeded, else it stays for the token refresher.

import { APIGatewayClient, FlushStageAuthorizersCacheCommand } from '@aws-sdk/client-api-gateway';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const sm = mockClient(SecretsManagerClient);
const apigw = mockClient(APIGatewayClient);
const ddb = mockClient(DynamoDBDocumentClient);

beforeAll(() => {
  vi.stubEnv('REST_API_ID', 'api1');
  vi.stubEnv('STAGE_NAME', 'sandbox');
  vi.stubEnv('MERCHANT_SECRET_PREFIX', 'clover-payments/sandbox/merchants/');
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
});
afterAll(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});
beforeEach(() => {
  sm.reset();
  apigw.reset();
  ddb.reset();
  sm.on(DeleteSecretCommand).resolves({});
  apigw.on(FlushStageAuthorizersCacheCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
});

const { runUninstallFollowUps, retryUninstallFollowUps } = await import('../../../shared/uninstall');
const since = '2026-11-30T10:00:00.000Z';

describe('uninstall follow-ups', () => {
  it('deletes the secret recoverably, flushes once, then clears each record (conditioned on its since)', async () => {
    const r = await runUninstallFollowUps(
      new Map([
        ['AAAAAAAAAAAAA', since],
        ['BBBBBBBBBBBBB', since],
      ]),
    );
    expect(r).toEqual({ done: ['AAAAAAAAAAAAA', 'BBBBBBBBBBBBB'], pending: [] });
    expect(sm.commandCalls(DeleteSecretCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: 'clover-payments/sandbox/merchants/AAAAAAAAAAAAA', RecoveryWindowInDays: 7 },
      { SecretId: 'clover-payments/sandbox/merchants/BBBBBBBBBBBBB', RecoveryWindowInDays: 7 },
    ]);
    expect(apigw.commandCalls(FlushStageAuthorizersCacheCommand)).toHaveLength(1);
    const clears = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(clears).toHaveLength(2);
    expect(clears[0]).toMatchObject({
      UpdateExpression: 'REMOVE uninstall_followups_since',
      ConditionExpression: 'uninstall_followups_since = :since',
      ExpressionAttributeValues: { ':since': since },
    });
  });

  it('a failed flush leaves every record pending; a failed deletion leaves that merchant pending', async () => {
    apigw
      .on(FlushStageAuthorizersCacheCommand)
      .rejects(Object.assign(new Error('x'), { name: 'TooManyRequestsException' }));
    expect(await runUninstallFollowUps(new Map([['AAAAAAAAAAAAA', since]]))).toEqual({
      done: [],
      pending: ['AAAAAAAAAAAAA'],
    });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);

    apigw.on(FlushStageAuthorizersCacheCommand).resolves({});
    sm.on(DeleteSecretCommand, { SecretId: 'clover-payments/sandbox/merchants/AAAAAAAAAAAAA' }).rejects(
      Object.assign(new Error('x'), { name: 'InternalServiceError' }),
    );
    const r = await runUninstallFollowUps(
      new Map([
        ['AAAAAAAAAAAAA', since],
        ['BBBBBBBBBBBBB', since],
      ]),
    );
    expect(r).toEqual({ done: ['BBBBBBBBBBBBB'], pending: ['AAAAAAAAAAAAA'] });
  });

  it('the refresher re-runs only disabled merchants with a pending record', async () => {
    const r = await retryUninstallFollowUps([
      { merchant_id: 'AAAAAAAAAAAAA', status: 'disabled', uninstall_followups_since: since, updated_at: since },
      { merchant_id: 'BBBBBBBBBBBBB', status: 'disabled', updated_at: since },
      { merchant_id: 'CCCCCCCCCCCCC', status: 'active', uninstall_followups_since: since, updated_at: since },
    ]);
    expect(r.done).toEqual(['AAAAAAAAAAAAA']);
    expect(sm.commandCalls(DeleteSecretCommand)).toHaveLength(1);
    expect(await retryUninstallFollowUps([])).toEqual({ done: [], pending: [] });
    expect(apigw.commandCalls(FlushStageAuthorizersCacheCommand)).toHaveLength(1);
  });
});
