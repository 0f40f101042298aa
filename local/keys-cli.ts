/**
 * `npm run keys -- create --merchant <id> --type secret|publishable`
 * `npm run keys -- revoke <key | key id> [--merchant <id>]`
 * `npm run keys -- list --merchant <id>`
 *
 * By default it acts on the running local platform ($DATA_DIR/platform.json) with the `ops` profile
 * of $DATA_DIR/aws-credentials, so it has exactly the operator's permissions. With `--stage <name>` it acts on the deployed
 * table `--table` (default clover-payments-<stage>) with the AWS credentials of the environment.
 * The new key is printed as the last line of `create`, so scripts can take it with `tail -1`.
 */
import { parseArgs } from 'node:util';

const USAGE = `usage:
  npm run keys -- create --merchant <merchant id> --type secret|publishable [--mode test|live]
  npm run keys -- revoke <key or key id> [--merchant <merchant id>]
  npm run keys -- list --merchant <merchant id>
options: --stage <stage> [--table <name>] act on a deployed stack (AWS credentials from the environment)`;

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
  if (values.stage) {
    process.env.TABLE_NAME = String(values.table ?? `clover-payments-${values.stage}`);
  } else {
    stopLocal = await useLocalPlatform();
  }
  try {
    const keys = await import('../shared/store/api-keys');
    const { isMerchantId } = await import('../shared/ids');
    const merchant = values.merchant as string | undefined;
    if (command === 'create') {
      if (!merchant || !isMerchantId(merchant)) fail('--merchant <13-character Clover merchant id> is required');
      const kind = values.type;
      if (kind !== 'secret' && kind !== 'publishable') fail('--type must be secret or publishable');
      const mode = (values.mode ?? (values.stage === 'production' ? 'live' : 'test')) as string;
      if (mode !== 'test' && mode !== 'live') fail('--mode must be test or live');
      const { getMerchant } = await import('../shared/store/merchants');
      if (!(await getMerchant(merchant))) fail(`merchant ${merchant} has not installed the app (no merchant record)`);
      const { key, record } = await keys.createApiKey(merchant, kind, mode);
      console.log(`created ${record.kind} key ${record.key_id} for merchant ${merchant}; it is shown only now:`);
      console.log(key);
    } else if (command === 'list') {
      if (!merchant || !isMerchantId(merchant)) fail('--merchant <13-character Clover merchant id> is required');
      const list = await keys.listApiKeys(merchant);
      if (list.length === 0) console.log(`no keys for merchant ${merchant}`);
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
    } else if (command === 'revoke') {
      if (!ref) fail('revoke needs a key or a key id');
      let revoked: Awaited<ReturnType<typeof keys.revokeApiKey>>;
      if (ref.startsWith('key_')) {
        if (!merchant) fail('revoking by key id needs --merchant <merchant id>');
        revoked = await keys.revokeApiKey({ merchantId: merchant, keyId: ref });
      } else {
        if (!keys.parseKey(ref)) fail('that is neither a key (pk_/sk_…) nor a key id (key_…)');
        revoked = await keys.revokeApiKey({ key: ref });
      }
      if (!revoked) fail('no such key');
      const { flushAuthorizerCache } = await import('../shared/authorizer-cache');
      await flushAuthorizerCache().catch(() => {
        console.error('note: the authorizer cache could not be flushed; the key stops working within 5 minutes');
      });
      console.log(`revoked ${revoked.key_id} (${revoked.hint}) at ${revoked.revoked_at}`);
    } else {
      fail(`unknown command "${command}"`);
    }
  } finally {
    await stopLocal?.();
  }
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
