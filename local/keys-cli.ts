/**
 * `npm run keys -- create --merchant <id> --type secret|publishable`
 * `npm run keys -- revoke <key | key id> [--merchant <id>]`
 * `npm run keys -- list --merchant <id>`
 * `npm run keys -- audit --merchant <id>`
 * `npm run keys -- flush`
 *
 * By default it acts on the running local platform ($DATA_DIR/platform.json) with the `ops` profile
 * of $DATA_DIR/aws-credentials, so it has exactly the operator's permissions. With `--stage <name>`
 * it acts on the deployed stack `CloverPayments-<stage>` (`--stack` to name another) with the AWS
 * credentials of the environment: the table `--table` (default clover-payments-<stage>), and the
 * REST API id and stage name read from the stack's outputs, whose authorizer cache a revoke flushes.
 *
 * A revoke whose cache flush fails exits 3 ("revoked, not flushed": the key keeps working until its
 * cached answer expires, up to 300 s) and says how to retry (`flush`); no other outcome is non-zero
 * but an error. Every create and revoke writes an audit record naming the operator (the OS user and
 * the AWS access key id that signed the write). The new key is printed as the last line of
 * `create`, so scripts can take it with `tail -1`.
 */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';

const USAGE = `usage:
  npm run keys -- create --merchant <merchant id> --type secret|publishable [--mode test|live]
  npm run keys -- revoke <key or key id> [--merchant <merchant id>]
  npm run keys -- list --merchant <merchant id>
  npm run keys -- audit --merchant <merchant id>
  npm run keys -- flush
options: --stage <stage> [--stack <name>] [--table <name>] act on a deployed stack (AWS credentials from the environment)`;

/** Exit codes: 0 done, 1 error, 2 usage, 3 revoked but the authorizer cache was not flushed. */
const EXIT_NOT_FLUSHED = 3;

function fail(message: string): never {
  console.error(`error: ${message}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        merchant: { type: 'string' },
        type: { type: 'string' },
        mode: { type: 'string' },
        stage: { type: 'string' },
        stack: { type: 'string' },
        table: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ref] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  let stopLocal: (() => Promise<void>) | null = null;
  const stage = values.stage as string | undefined;
  if (stage) {
    process.env.TABLE_NAME = String(values.table ?? `clover-payments-${stage}`);
  } else {
    stopLocal = await useLocalPlatform();
  }
  try {
    const keys = await import('../shared/store/api-keys');
    const { isMerchantId } = await import('../shared/ids');
    const merchant = values.merchant as string | undefined;
    const requireMerchant = (): string => {
      if (!merchant || !isMerchantId(merchant)) fail('--merchant <13-character Clover merchant id> is required');
      return merchant;
    };
    if (command === 'create') {
      const m = requireMerchant();
      const kind = values.type;
      if (kind !== 'secret' && kind !== 'publishable') fail('--type must be secret or publishable');
      const mode = (values.mode ?? (stage === 'production' ? 'live' : 'test')) as string;
      if (mode !== 'test' && mode !== 'live') fail('--mode must be test or live');
      const { getMerchant } = await import('../shared/store/merchants');
      if (!(await getMerchant(m))) fail(`merchant ${m} has not installed the app (no merchant record)`);
      const { key, record } = await keys.createApiKey(m, kind, mode, new Date(), await actor());
      console.log(`created ${record.kind} key ${record.key_id} for merchant ${m}; it is shown only now:`);
      console.log(key);
    } else if (command === 'list') {
      const m = requireMerchant();
      const list = await keys.listApiKeys(m);
      if (list.length === 0) console.log(`no keys for merchant ${m}`);
      for (const k of list.sort((a, b) => a.created.localeCompare(b.created))) {
        console.log(
          [
            k.key_id,
            k.kind.padEnd(11),
            k.mode,
            k.hint,
            k.created,
            k.revoked_at ? `revoked ${k.revoked_at}` : 'active',
          ].join('  '),
        );
      }
    } else if (command === 'audit') {
      const m = requireMerchant();
      const records = await keys.listKeyAudit(m);
      if (records.length === 0) console.log(`no key audit records for merchant ${m}`);
      for (const a of records.sort((x, y) => x.at.localeCompare(y.at))) {
        console.log([a.at, a.action.padEnd(11), a.key_id, a.kind.padEnd(11), a.hint, `by ${a.actor}`].join('  '));
      }
    } else if (command === 'revoke') {
      if (!ref) fail('revoke needs a key or a key id');
      let revoked: Awaited<ReturnType<typeof keys.revokeApiKey>>;
      const who = await actor();
      if (ref.startsWith('key_')) {
        if (!merchant) fail('revoking by key id needs --merchant <merchant id>');
        revoked = await keys.revokeApiKey({ merchantId: merchant, keyId: ref }, new Date(), who);
      } else {
        if (!keys.parseKey(ref)) fail('that is neither a key (pk_/sk_…) nor a key id (key_…)');
        revoked = await keys.revokeApiKey({ key: ref }, new Date(), who);
      }
      if (!revoked) fail('no such key');
      console.log(`revoked ${revoked.key_id} (${revoked.hint}) at ${revoked.revoked_at}`);
      await flushOrExit(stage, values.stack as string | undefined);
    } else if (command === 'flush') {
      await flushOrExit(stage, values.stack as string | undefined);
    } else {
      fail(`unknown command "${command}"`);
    }
  } finally {
    await stopLocal?.();
  }
}

/**
 * Flushes the stage's authorizer cache, so that a revoked key stops at once. Deployed: the REST API
 * id and stage come from the stack's outputs. Exits 3 when it could not.
 */
async function flushOrExit(stage: string | undefined, stack: string | undefined): Promise<void> {
  try {
    if (stage) {
      const target = await stackTarget(stack ?? `CloverPayments-${stage}`);
      process.env.REST_API_ID = target.restApiId;
      process.env.STAGE_NAME = target.stageName;
    }
    const { config } = await import('../shared/config');
    if (!config.restApiId || !config.stageName) throw new Error('no REST API id and stage name to flush');
    const { flushAuthorizerCache } = await import('../shared/authorizer-cache');
    await flushAuthorizerCache();
    console.log(`flushed the authorizer cache of ${config.restApiId}/${config.stageName}`);
  } catch (e) {
    console.error(
      `error: the authorizer cache could not be flushed (${(e as Error)?.message ?? e}); a revoked key keeps working until its cached answer expires (up to 300 s). Retry with: npm run keys -- flush${stage ? ` --stage ${stage}` : ''}`,
    );
    process.exit(EXIT_NOT_FLUSHED);
  }
}

/** The stack's RestApiId and StageName outputs (infra/stack.ts). */
async function stackTarget(stackName: string): Promise<{ restApiId: string; stageName: string }> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ maxAttempts: 3 });
  const r = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  const outputs = new Map((r.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  const restApiId = outputs.get('RestApiId');
  const stageName = outputs.get('StageName');
  if (!restApiId || !stageName) throw new Error(`stack ${stackName} has no RestApiId/StageName outputs`);
  return { restApiId, stageName };
}

/** Who acts, for the audit record: the OS user and the AWS access key id that signs the writes. */
async function actor(): Promise<string> {
  const { dynamo } = await import('../shared/aws');
  let keyId = 'unknown';
  try {
    keyId = (await dynamo.config.credentials()).accessKeyId;
  } catch {
    // No credentials: the write itself will fail and say so.
  }
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers).
  }
  return `${user} (AWS access key ${keyId})`;
}

/**
 * Points the SDK at the running local platform, as its operator: the `ops` profile of
 * $DATA_DIR/aws-credentials, whose permissions are the stack's operator policy, enforced by the
 * platform's endpoints as AWS would.
 */
async function useLocalPlatform(): Promise<() => Promise<void>> {
  const { optionsFromEnv, readPlatformFile } = await import('./platform');
  const { readProfile } = await import('./credentials');
  const opts = optionsFromEnv();
  const info = readPlatformFile(opts.dataDir);
  const up = info
    ? await fetch(`${info.gatewayUrl}/health`).then(
        (r) => r.ok,
        () => false,
      )
    : false;
  if (!info || !up) fail(`the local platform is not running (DATA_DIR=${opts.dataDir}): start it with npm start`);
  const ops = readProfile(opts.dataDir, 'ops');
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: ops.accessKeyId,
    AWS_SECRET_ACCESS_KEY: ops.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: info.dynamodbEndpoint,
    AWS_ENDPOINT_URL_API_GATEWAY: info.gatewayUrl,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    TABLE_NAME: info.tableName,
    REST_API_ID: info.restApiId,
    STAGE_NAME: info.stageName,
  });
  return async () => {};
}

main().catch((e) => {
  console.error(`error: ${(e as Error)?.message ?? e}`);
  process.exit(1);
});
