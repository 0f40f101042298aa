import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  RestoreSecretCommand,
  SecretsManagerClient,
  TagResourceCommand,
  UpdateSecretCommand,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecretsManagerServer, startSecretsManager } from '../../../local/secrets-manager';

const execFileAsync = promisify(execFile);
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const DAY_MS = 86_400_000;
const ARN_RE = (region: string, name: string) =>
  new RegExp(`^arn:aws:secretsmanager:${region}:000000000000:secret:${name.replace(/[/+.]/g, '\\$&')}-[A-Za-z0-9]{6}$`);

interface AwsErrorLike {
  name: string;
  message: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
}

/** Awaits a rejection and checks it is the named AWS exception (as the SDK surfaces it). */
async function awsError(p: Promise<unknown>, name: string, message?: string | RegExp): Promise<AwsErrorLike> {
  const outcome = await p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected ${name}, but the call succeeded: ${JSON.stringify(outcome.value)}`);
  const e = outcome.error as AwsErrorLike;
  expect(e.name).toBe(name);
  expect(e.$metadata?.httpStatusCode).toBe(400);
  if (typeof message === 'string') expect(e.message).toBe(message);
  else if (message) expect(e.message).toMatch(message);
  return e;
}

function sdk(server: SecretsManagerServer, region = 'us-east-1', maxAttempts?: number): SecretsManagerClient {
  return new SecretsManagerClient({
    endpoint: server.url,
    region,
    credentials,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  });
}

describe('local Secrets Manager with the AWS SDK v3', () => {
  const OAUTH_VALUE = 'oauth-refresh-token-S3CR3T-1';
  const logLines: string[] = [];
  let clockOffsetMs = 0;
  let server: SecretsManagerServer;
  let sm: SecretsManagerClient;

  beforeAll(async () => {
    server = await startSecretsManager({
      now: () => new Date(Date.now() + clockOffsetMs),
      log: (line) => logLines.push(line),
    });
    sm = sdk(server);
  });
  afterAll(async () => {
    sm.destroy();
    await server.close();
  });

  it('runs the whole lifecycle: create, get, put, stages, describe, update, delete, restore, force delete', async () => {
    const name = 'app/oauth';
    const created = await sm.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: OAUTH_VALUE,
        Description: 'Clover OAuth tokens',
        Tags: [{ Key: 'team', Value: 'payments' }],
      }),
    );
    expect(created.ARN).toMatch(ARN_RE('us-east-1', name));
    expect(created.Name).toBe(name);
    const v1 = created.VersionId!;
    expect(v1).toMatch(/^[0-9a-f-]{36}$/);

    // duplicate name
    await awsError(
      sm.send(new CreateSecretCommand({ Name: name, SecretString: 'other' })),
      'ResourceExistsException',
      `The operation failed because the secret ${name} already exists.`,
    );
    // idempotent retry: same ClientRequestToken, same value → same result
    const retried = await sm.send(
      new CreateSecretCommand({ Name: name, SecretString: OAUTH_VALUE, ClientRequestToken: v1 }),
    );
    expect(retried).toMatchObject({ ARN: created.ARN, Name: name, VersionId: v1 });
    await awsError(
      sm.send(new CreateSecretCommand({ Name: name, SecretString: 'different', ClientRequestToken: v1 })),
      'ResourceExistsException',
    );

    const got1 = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(got1).toMatchObject({ ARN: created.ARN, Name: name, VersionId: v1, SecretString: OAUTH_VALUE });
    expect(got1.VersionStages).toEqual(['AWSCURRENT']);
    expect(got1.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs(got1.CreatedDate!.getTime() - Date.now())).toBeLessThan(10_000);
    // by full ARN and by partial ARN (without the random suffix)
    expect((await sm.send(new GetSecretValueCommand({ SecretId: created.ARN }))).VersionId).toBe(v1);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: created.ARN!.slice(0, -7) }))).VersionId).toBe(v1);

    const put2 = await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'token-v2' }));
    const v2 = put2.VersionId!;
    expect(v2).not.toBe(v1);
    expect(put2).toMatchObject({ ARN: created.ARN, Name: name, VersionStages: ['AWSCURRENT'] });
    // idempotent PutSecretValue retry; a different value under the same token is refused
    const put2again = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 'token-v2', ClientRequestToken: v2 }),
    );
    expect(put2again.VersionId).toBe(v2);
    await awsError(
      sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'token-v2b', ClientRequestToken: v2 })),
      'ResourceExistsException',
    );

    const current = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSCURRENT' }));
    expect(current).toMatchObject({ VersionId: v2, SecretString: 'token-v2', VersionStages: ['AWSCURRENT'] });
    const previous = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPREVIOUS' }));
    expect(previous).toMatchObject({ VersionId: v1, SecretString: OAUTH_VALUE, VersionStages: ['AWSPREVIOUS'] });
    const byId = await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v1 }));
    expect(byId).toMatchObject({ VersionId: v1, SecretString: OAUTH_VALUE, VersionStages: ['AWSPREVIOUS'] });
    await awsError(
      sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v1, VersionStage: 'AWSCURRENT' })),
      'InvalidRequestException',
      'You provided a VersionStage that is not associated to the provided VersionId.',
    );
    await awsError(
      sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' })),
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    );

    // a third value: AWSPREVIOUS moves off v1, which becomes deprecated (still readable by VersionId)
    const v3 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'token-v3' }))).VersionId!;
    const described = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(described).toMatchObject({
      ARN: created.ARN,
      Name: name,
      Description: 'Clover OAuth tokens',
      Tags: [{ Key: 'team', Value: 'payments' }],
    });
    expect(described.VersionIdsToStages).toEqual({ [v3]: ['AWSCURRENT'], [v2]: ['AWSPREVIOUS'] });
    expect(described.CreatedDate).toBeInstanceOf(Date);
    expect(described.LastChangedDate).toBeInstanceOf(Date);
    expect(described.LastAccessedDate).toBeInstanceOf(Date);
    expect(described.DeletedDate).toBeUndefined();
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name, VersionId: v1 }))).VersionStages).toEqual([]);
    const versions = await sm.send(new ListSecretVersionIdsCommand({ SecretId: name, IncludeDeprecated: true }));
    expect(versions.Versions?.map((v) => v.VersionId)).toEqual([v1, v2, v3]);

    // UpdateSecret: description only → no new version; with a value → new AWSCURRENT version
    const descOnly = await sm.send(new UpdateSecretCommand({ SecretId: name, Description: 'rotated by hand' }));
    expect(descOnly.VersionId).toBeUndefined();
    const updated = await sm.send(new UpdateSecretCommand({ SecretId: name, SecretString: 'token-v4' }));
    const v4 = updated.VersionId!;
    expect(v4).toBeDefined();
    expect(await sm.send(new GetSecretValueCommand({ SecretId: name }))).toMatchObject({
      VersionId: v4,
      SecretString: 'token-v4',
    });
    const afterUpdate = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(afterUpdate.Description).toBe('rotated by hand');
    expect(afterUpdate.VersionIdsToStages).toEqual({ [v4]: ['AWSCURRENT'], [v3]: ['AWSPREVIOUS'] });

    // delete with a recovery window
    await awsError(
      sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7, ForceDeleteWithoutRecovery: true })),
      'InvalidParameterException',
      "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
    );
    await awsError(
      sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 3 })),
      'InvalidParameterException',
      'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
    );
    const deleted = await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    expect(deleted).toMatchObject({ ARN: created.ARN, Name: name });
    expect(Math.abs(deleted.DeletionDate!.getTime() - (Date.now() + 7 * DAY_MS))).toBeLessThan(10_000);
    await awsError(
      sm.send(new GetSecretValueCommand({ SecretId: name })),
      'InvalidRequestException',
      "You can't perform this operation on the secret because it was marked for deletion.",
    );
    await awsError(
      sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 'nope' })),
      'InvalidRequestException',
    );
    await awsError(
      sm.send(new CreateSecretCommand({ Name: name, SecretString: 'again' })),
      'InvalidRequestException',
      "You can't create this secret because a secret with this name is already scheduled for deletion.",
    );
    const whileDeleted = await sm.send(new DescribeSecretCommand({ SecretId: name }));
    expect(whileDeleted.DeletedDate).toBeInstanceOf(Date);
    const listed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: [name] }] }));
    expect(listed.SecretList?.map((s) => s.Name)).toEqual([]);
    const listedAll = await sm.send(
      new ListSecretsCommand({ IncludePlannedDeletion: true, Filters: [{ Key: 'name', Values: [name] }] }),
    );
    expect(listedAll.SecretList?.map((s) => s.Name)).toEqual([name]);
    expect(listedAll.SecretList?.[0]?.DeletedDate).toBeInstanceOf(Date);

    // restore
    expect(await sm.send(new RestoreSecretCommand({ SecretId: name }))).toMatchObject({ ARN: created.ARN, Name: name });
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('token-v4');
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeUndefined();

    // force delete: gone at once, and the name is free again
    const forced = await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
    expect(Math.abs(forced.DeletionDate!.getTime() - Date.now())).toBeLessThan(10_000);
    const gone = await awsError(
      sm.send(new GetSecretValueCommand({ SecretId: name })),
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret.",
    );
    expect(gone).toBeInstanceOf(ResourceNotFoundException);
    await awsError(sm.send(new DescribeSecretCommand({ SecretId: name })), 'ResourceNotFoundException');
    await awsError(sm.send(new DeleteSecretCommand({ SecretId: name })), 'ResourceNotFoundException');
    const recreated = await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'fresh' }));
    expect(recreated.ARN).toMatch(ARN_RE('us-east-1', name));
    await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  it('purges a scheduled secret lazily once its DeletionDate has passed', async () => {
    const name = 'app/expiring';
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'short-lived' }));
    await sm.send(new DeleteSecretCommand({ SecretId: name, RecoveryWindowInDays: 7 }));
    clockOffsetMs = 6 * DAY_MS;
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).DeletedDate).toBeInstanceOf(Date);
    clockOffsetMs = 7 * DAY_MS + 60_000;
    try {
      await awsError(sm.send(new DescribeSecretCommand({ SecretId: name })), 'ResourceNotFoundException');
      await awsError(sm.send(new RestoreSecretCommand({ SecretId: name })), 'ResourceNotFoundException');
      const again = await sm.send(new CreateSecretCommand({ Name: name, SecretString: 'new life' }));
      expect((await sm.send(new GetSecretValueCommand({ SecretId: again.ARN }))).SecretString).toBe('new life');
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('moves staging labels like AWS (AWSPENDING, UpdateSecretVersionStage)', async () => {
    const name = 'app/rotating';
    const v1 = (await sm.send(new CreateSecretCommand({ Name: name, SecretString: 's1' }))).VersionId!;
    const pending = await sm.send(
      new PutSecretValueCommand({ SecretId: name, SecretString: 's2', VersionStages: ['AWSPENDING'] }),
    );
    const v2 = pending.VersionId!;
    expect(pending.VersionStages).toEqual(['AWSPENDING']);
    expect((await sm.send(new GetSecretValueCommand({ SecretId: name }))).SecretString).toBe('s1');
    expect(
      (await sm.send(new GetSecretValueCommand({ SecretId: name, VersionStage: 'AWSPENDING' }))).SecretString,
    ).toBe('s2');
    await awsError(
      sm.send(new UpdateSecretVersionStageCommand({ SecretId: name, VersionStage: 'AWSCURRENT', MoveToVersionId: v2 })),
      'InvalidParameterException',
      /RemoveFromVersionId can't be empty/,
    );
    await sm.send(
      new UpdateSecretVersionStageCommand({
        SecretId: name,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: v2,
        RemoveFromVersionId: v1,
      }),
    );
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages).toEqual({
      [v1]: ['AWSPREVIOUS'],
      [v2]: ['AWSCURRENT', 'AWSPENDING'],
    });
    const v3 = (await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: 's3' }))).VersionId!;
    expect((await sm.send(new DescribeSecretCommand({ SecretId: name }))).VersionIdsToStages).toEqual({
      [v2]: ['AWSPREVIOUS'],
      [v3]: ['AWSCURRENT'],
    });
    await sm.send(new DeleteSecretCommand({ SecretId: name, ForceDeleteWithoutRecovery: true }));
  });

  it('stores binary secrets, filters and pages ListSecrets, and tags', async () => {
    const bytes = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    await sm.send(new CreateSecretCommand({ Name: 'list/bin', SecretBinary: bytes }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: 'list/bin' }));
    expect(got.SecretString).toBeUndefined();
    expect(Array.from(got.SecretBinary ?? [])).toEqual(Array.from(bytes));
    await awsError(
      sm.send(new CreateSecretCommand({ Name: 'list/both', SecretString: 'x', SecretBinary: bytes })),
      'InvalidParameterException',
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
    await awsError(
      sm.send(new CreateSecretCommand({ Name: 'bad name', SecretString: 'x' })),
      'ValidationException',
      /^Invalid name/,
    );
    for (const n of ['list/a', 'list/b', 'other/c']) {
      await sm.send(new CreateSecretCommand({ Name: n, SecretString: n }));
    }
    await sm.send(new TagResourceCommand({ SecretId: 'list/a', Tags: [{ Key: 'env', Value: 'local' }] }));
    const prefixed = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'name', Values: ['list/'] }] }));
    expect(prefixed.SecretList?.map((s) => s.Name).sort()).toEqual(['list/a', 'list/b', 'list/bin']);
    const tagged = await sm.send(new ListSecretsCommand({ Filters: [{ Key: 'tag-key', Values: ['env'] }] }));
    expect(tagged.SecretList?.map((s) => s.Name)).toEqual(['list/a']);
    expect(tagged.SecretList?.[0]?.SecretVersionsToStages).toBeDefined();
    const page1 = await sm.send(
      new ListSecretsCommand({ MaxResults: 2, Filters: [{ Key: 'name', Values: ['list/'] }] }),
    );
    expect(page1.SecretList).toHaveLength(2);
    expect(page1.NextToken).toBeDefined();
    const page2 = await sm.send(
      new ListSecretsCommand({
        MaxResults: 2,
        NextToken: page1.NextToken,
        Filters: [{ Key: 'name', Values: ['list/'] }],
      }),
    );
    expect(page2.SecretList).toHaveLength(1);
    expect(page2.NextToken).toBeUndefined();
    for (const n of ['list/bin', 'list/a', 'list/b', 'other/c']) {
      await sm.send(new DeleteSecretCommand({ SecretId: n, ForceDeleteWithoutRecovery: true }));
    }
  });

  it('keeps secrets regional: the region comes from the SigV4 credential scope', async () => {
    const eu = sdk(server, 'eu-west-1');
    try {
      const created = await eu.send(new CreateSecretCommand({ Name: 'regional/x', SecretString: 'eu' }));
      expect(created.ARN).toMatch(ARN_RE('eu-west-1', 'regional/x'));
      expect((await eu.send(new GetSecretValueCommand({ SecretId: created.ARN }))).SecretString).toBe('eu');
      await awsError(sm.send(new GetSecretValueCommand({ SecretId: 'regional/x' })), 'ResourceNotFoundException');
      await eu.send(new DeleteSecretCommand({ SecretId: 'regional/x', ForceDeleteWithoutRecovery: true }));
    } finally {
      eu.destroy();
    }
  });

  it('never logs secret values or bodies: only "<Op> <name> <status>"', () => {
    expect(logLines.length).toBeGreaterThan(20);
    const all = logLines.join('\n');
    for (const secret of [OAUTH_VALUE, 'token-v2', 'token-v3', 'token-v4', 'short-lived', 'SecretString']) {
      expect(all).not.toContain(secret);
    }
    for (const line of logLines) expect(line).toMatch(/^[A-Za-z-]+ \S+ \d{3}$/);
    expect(logLines).toContain('GetSecretValue app/oauth 200');
    expect(logLines).toContain('CreateSecret app/oauth 400');
  });
});

describe('local Secrets Manager persistence', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'clover-sm-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('survives a restart on the same data file, versions, stages and deletion schedule included', async () => {
    const dataFile = join(dir, 'state', 'secrets.json');
    const first = await startSecretsManager({ dataFile });
    const sm1 = sdk(first);
    let arn: string;
    let v1: string;
    let v2: string;
    try {
      const created = await sm1.send(
        new CreateSecretCommand({ Name: 'persist/token', SecretString: 'p1', Tags: [{ Key: 'k', Value: 'v' }] }),
      );
      arn = created.ARN!;
      v1 = created.VersionId!;
      v2 = (await sm1.send(new PutSecretValueCommand({ SecretId: arn, SecretString: 'p2' }))).VersionId!;
      await sm1.send(new CreateSecretCommand({ Name: 'persist/doomed', SecretBinary: new Uint8Array([1, 2, 3]) }));
      await sm1.send(new DeleteSecretCommand({ SecretId: 'persist/doomed' }));
    } finally {
      sm1.destroy();
      await first.close();
    }

    const st = await stat(dataFile);
    expect(st.mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(dataFile, 'utf8'))).toMatchObject({ format: 'clover-local-secrets-manager' });
    expect((await readdir(join(dir, 'state'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const second = await startSecretsManager({ dataFile });
    const sm2 = sdk(second);
    try {
      expect(second.url).not.toBe(first.url);
      const current = await sm2.send(new GetSecretValueCommand({ SecretId: 'persist/token' }));
      expect(current).toMatchObject({ ARN: arn, VersionId: v2, SecretString: 'p2', VersionStages: ['AWSCURRENT'] });
      const previous = await sm2.send(
        new GetSecretValueCommand({ SecretId: 'persist/token', VersionStage: 'AWSPREVIOUS' }),
      );
      expect(previous).toMatchObject({ VersionId: v1, SecretString: 'p1' });
      const described = await sm2.send(new DescribeSecretCommand({ SecretId: arn }));
      expect(described.VersionIdsToStages).toEqual({ [v1]: ['AWSPREVIOUS'], [v2]: ['AWSCURRENT'] });
      expect(described.Tags).toEqual([{ Key: 'k', Value: 'v' }]);
      await awsError(sm2.send(new GetSecretValueCommand({ SecretId: 'persist/doomed' })), 'InvalidRequestException');
      await sm2.send(new RestoreSecretCommand({ SecretId: 'persist/doomed' }));
      const bin = await sm2.send(new GetSecretValueCommand({ SecretId: 'persist/doomed' }));
      expect(Array.from(bin.SecretBinary ?? [])).toEqual([1, 2, 3]);
    } finally {
      sm2.destroy();
      await second.close();
    }
  });

  it('refuses to start on a corrupt data file instead of overwriting it', async () => {
    const dataFile = join(dir, 'corrupt.json');
    await writeFile(dataFile, '{not json');
    await expect(startSecretsManager({ dataFile })).rejects.toThrow(/not valid JSON/);
    expect(await readFile(dataFile, 'utf8')).toBe('{not json');
  });
});

describe('local Secrets Manager with the AWS CLI', () => {
  let server: SecretsManagerServer;
  let cliDir: string;
  beforeAll(async () => {
    server = await startSecretsManager();
    cliDir = await mkdtemp(join(tmpdir(), 'clover-sm-cli-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(cliDir, { recursive: true, force: true });
  });

  async function findAws(): Promise<string> {
    try {
      const { stdout } = await execFileAsync('which', ['aws']);
      return stdout.trim();
    } catch {
      throw new Error('The AWS CLI (`aws`) is not on PATH. Install it with: apt-get install -y awscli');
    }
  }

  async function aws(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_CONFIG_FILE: join(cliDir, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(cliDir, 'credentials'),
      AWS_PAGER: '',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    try {
      const { stdout, stderr } = await execFileAsync(
        bin,
        ['secretsmanager', ...args, '--endpoint-url', server.url, '--output', 'json'],
        { env, timeout: 20_000 },
      );
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code?: number; stdout?: string; stderr?: string };
      if (typeof err.code !== 'number') throw e;
      return { code: err.code, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
    }
  }

  it('create-secret, get-secret-value, put-secret-value, describe-secret, delete-secret', {
    timeout: 60_000,
  }, async () => {
    const bin = await findAws();

    const created = await aws(bin, ['create-secret', '--name', 'cli/x', '--secret-string', 'y']);
    expect(created.code, created.stderr).toBe(0);
    const c = JSON.parse(created.stdout) as { ARN: string; Name: string; VersionId: string };
    expect(c.ARN).toMatch(ARN_RE('us-east-1', 'cli/x'));
    expect(c.Name).toBe('cli/x');

    const put = await aws(bin, ['put-secret-value', '--secret-id', 'cli/x', '--secret-string', 'z']);
    expect(put.code, put.stderr).toBe(0);
    const p = JSON.parse(put.stdout) as { VersionId: string; VersionStages: string[] };
    expect(p.VersionStages).toEqual(['AWSCURRENT']);

    const current = await aws(bin, ['get-secret-value', '--secret-id', 'cli/x']);
    const described = await aws(bin, ['describe-secret', '--secret-id', c.ARN]);
    expect(current.code, current.stderr).toBe(0);
    expect(JSON.parse(current.stdout)).toMatchObject({ Name: 'cli/x', SecretString: 'z', VersionId: p.VersionId });
    expect(described.code, described.stderr).toBe(0);
    expect(JSON.parse(described.stdout)).toMatchObject({
      Name: 'cli/x',
      VersionIdsToStages: { [c.VersionId]: ['AWSPREVIOUS'], [p.VersionId]: ['AWSCURRENT'] },
    });

    const deleted = await aws(bin, ['delete-secret', '--secret-id', 'cli/x', '--force-delete-without-recovery']);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ ARN: c.ARN, Name: 'cli/x' });

    const missing = await aws(bin, ['get-secret-value', '--secret-id', 'cli/x']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('(ResourceNotFoundException)');
    expect(missing.stderr).toContain("Secrets Manager can't find the specified secret.");
  });
});

describe('local Secrets Manager error shape and test hooks', () => {
  let server: SecretsManagerServer;
  beforeAll(async () => {
    server = await startSecretsManager();
  });
  afterAll(async () => {
    await server.close();
  });

  const call = (target: string | null, body: string) =>
    fetch(`${server.url}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        ...(target === null ? {} : { 'x-amz-target': target }),
      },
      body,
    });

  async function expectError(res: Response, status: number, type: string, message?: string | RegExp) {
    expect(res.status).toBe(status);
    expect(res.headers.get('x-amzn-errortype')).toBe(type);
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    const body = (await res.json()) as { __type: string; message: string };
    expect(body.__type).toBe(type);
    expect(typeof body.message).toBe('string');
    if (typeof message === 'string') expect(body.message).toBe(message);
    else if (message) expect(body.message).toMatch(message);
  }

  it('answers AWS JSON 1.1 errors with __type, message, x-amzn-errortype and x-amzn-requestid', async () => {
    await expectError(
      await call('secretsmanager.GetSecretValue', '{"SecretId":"missing"}'),
      400,
      'ResourceNotFoundException',
      "Secrets Manager can't find the specified secret.",
    );
    await expectError(await call('secretsmanager.RotateTheMoon', '{}'), 400, 'UnknownOperationException');
    await expectError(await call(null, '{}'), 400, 'UnknownOperationException');
    await expectError(await call('secretsmanager.GetSecretValue', '{"SecretId":'), 400, 'SerializationException');
    await expectError(await call('secretsmanager.GetSecretValue', '{"SecretId":42}'), 400, 'SerializationException');
    await expectError(
      await call('secretsmanager.GetSecretValue', '{}'),
      400,
      'ValidationException',
      "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null",
    );
    await expectError(
      await call('secretsmanager.CreateSecret', '{"Name":"no-token","SecretString":"x"}'),
      400,
      'InvalidRequestException',
      'You must provide a ClientRequestToken value. We recommend a UUID-type value.',
    );
    const ok = await call('secretsmanager.ListSecrets', '{}');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(ok.headers.get('x-amzn-errortype')).toBeNull();
    expect(await ok.json()).toEqual({ SecretList: [] });
  });

  it('setFault answers the next N requests with the given status and __type; requestCount counts requests', async () => {
    const before = server.requestCount();
    server.setFault({ status: 500, type: 'InternalServiceError', message: 'boom', times: 2 });
    await expectError(await call('secretsmanager.ListSecrets', '{}'), 500, 'InternalServiceError', 'boom');
    await expectError(await call('secretsmanager.ListSecrets', '{}'), 500, 'InternalServiceError', 'boom');
    expect((await call('secretsmanager.ListSecrets', '{}')).status).toBe(200);
    expect(server.requestCount() - before).toBe(3);

    // The SDK retries throttling: two faults, then success on the third attempt.
    const sm = sdk(server);
    const noRetry = sdk(server, 'us-east-1', 1);
    try {
      await sm.send(new CreateSecretCommand({ Name: 'fault/x', SecretString: 'v' }));
      server.setFault({ status: 400, type: 'ThrottlingException', times: 2 });
      const start = server.requestCount();
      const got = await sm.send(new GetSecretValueCommand({ SecretId: 'fault/x' }));
      expect(got.SecretString).toBe('v');
      expect(got.$metadata.attempts).toBe(3);
      expect(server.requestCount() - start).toBe(3);

      server.setFault({ status: 400, type: 'ThrottlingException', message: 'Rate exceeded', times: 1 });
      const throttled = await awsError(
        noRetry.send(new GetSecretValueCommand({ SecretId: 'fault/x' })),
        'ThrottlingException',
        'Rate exceeded',
      );
      expect(throttled.$metadata?.attempts).toBe(1);

      server.setFault({ status: 500, type: 'InternalServiceError', times: 1 });
      const failed = (await noRetry
        .send(new GetSecretValueCommand({ SecretId: 'fault/x' }))
        .catch((e) => e)) as AwsErrorLike;
      expect(failed.name).toBe('InternalServiceError');
      expect(failed.$metadata?.httpStatusCode).toBe(500);

      server.setFault({ status: 400, type: 'ThrottlingException', times: 5 });
      server.setFault(null);
      expect((await noRetry.send(new GetSecretValueCommand({ SecretId: 'fault/x' }))).SecretString).toBe('v');
    } finally {
      sm.destroy();
      noRetry.destroy();
    }
  });
});
