/**
 * The house Lambda function: every function in functions/ is one of these, so the defaults live
 * in one place (after the Powertools example `FunctionWithLogGroup`).
 *
 * Defaults, and why:
 * - Runtime NODEJS_24_X. Node 22 would also run these bundles, but cdk-nag's AwsSolutions-L1 and
 *   Serverless-LambdaLatestVersion pass only for the newest Node runtime that aws-cdk-lib knows
 *   (nodejs24.x in 2.276.0), and Node 24 is supported by Lambda longer. Bundles target node22
 *   syntax, which Node 24 runs unchanged, so local runs on Node 20/22 and Lambda behave alike.
 * - arm64: about 20% cheaper per GB-second than x86_64 for the same work.
 * - ESM bundles with the AWS SDK inside (module-first main fields): smaller and faster to load
 *   than an external SDK (../shared/toolchain.md §5), minus the SDK modules no function ever loads
 *   on Lambda (NEVER_LOADED_ON_LAMBDA). No source maps: they cost cold-start time and our errors
 *   are values with codes, not stack traces.
 * - An explicit log group per function: KMS-encrypted, retention from the stage, removed with the
 *   stack in a sandbox only.
 * - Its own role with no AWS managed policy and no inline policy; every permission is a statement
 *   on one customer-managed policy, added by the `use*` helpers below, each of which also sets the
 *   environment variable that tells the code what it may use. A grant without its variable, or a
 *   variable without its grant, cannot happen.
 * - X-Ray off. No Powertools Tracer is bundled, so active tracing would only repeat what the
 *   REPORT lines and the API access log already carry (durations, integration latency), at
 *   $5 per million traces; it would also be one more place a response could be captured.
 * - Event logging off everywhere (POWERTOOLS_LOGGER_LOG_EVENT=false): an event can carry a card
 *   number or an API key.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Stack } from 'aws-cdk-lib';
import type { IRestApi } from 'aws-cdk-lib/aws-apigateway';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import {
  type CfnManagedPolicy,
  Effect,
  ManagedPolicy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, CfnEventSourceMapping, type CfnFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { FunctionName } from '../shared/routes';
import type { StageConfig } from './config';
import type { Data } from './data';
import type { Secrets } from './secrets';

/** Powertools service name: also the `service` dimension Powertools Metrics puts on every metric. */
export const SERVICE_NAME = 'clover-payments';
/** CloudWatch namespace of the custom metrics (POWERTOOLS_METRICS_NAMESPACE). */
export const METRICS_NAMESPACE = 'CloverPayments';
export const RUNTIME = Runtime.NODEJS_24_X;

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface HouseFunctionProps {
  /** Folder under functions/; the entry is functions/<name>/index.ts, exporting `handler`. */
  readonly name: FunctionName;
  readonly description: string;
  readonly stage: StageConfig;
  /** Encrypts the function's log group. */
  readonly logKey: IKey;
  readonly timeout: Duration;
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
}

/**
 * Left out of every bundle: SDK modules that the bundled code loads only with a dynamic `import()`
 * on a path our functions never take, so excluding them removes no code that runs. No static
 * import of them remains in any bundle (`npm run bench` checks, and imports every bundle from a
 * directory with no node_modules above it). Together they are ~30% of each bundle and more than
 * that of its cold import time (reports/bench.md).
 * - The links of the SDK's default credential chain after `fromEnv`
 *   (@aws-sdk/credential-provider-node): Lambda always puts the role's credentials in
 *   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, so the chain stops at its first
 *   link. (Without them the error would name a missing package instead of "Could not load
 *   credentials from any providers" — which cannot happen on Lambda.)
 * - Event-stream serde (@smithy/core/event-streams): loaded only for operations with an event
 *   stream, and DynamoDB, Secrets Manager and API Gateway have none.
 */
const NEVER_LOADED_ON_LAMBDA = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@smithy/credential-provider-imds',
  '@smithy/core/event-streams',
];

export type TableAccess = 'get' | 'read' | 'readwrite';
export type MerchantSecretAccess = 'read' | 'refresh' | 'manage';

/** Fine-grained conditions on a table grant (DynamoDB's IAM condition keys). */
export interface TableScope {
  /**
   * The partition-key values the function may touch (`dynamodb:LeadingKeys`, StringLike patterns
   * from shared/store/keys.ts `leadingKeys`). The key must be present, so a Scan or a Query that
   * does not fix the partition key is refused too.
   */
  readonly leadingKeys?: readonly string[];
  /** The only attributes it may read (`dynamodb:Attributes`, with `Select = SPECIFIC_ATTRIBUTES`). */
  readonly attributes?: readonly string[];
}

const TABLE_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
const TABLE_WRITE = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
];

export class HouseFunction extends NodejsFunction {
  /** The one customer-managed policy holding every permission of this function. */
  readonly policy: ManagedPolicy;
  readonly houseName: FunctionName;
  private readonly keyStatements = new Map<string, PolicyStatement>();

  constructor(scope: Construct, id: string, props: HouseFunctionProps) {
    const { stage } = props;
    const functionName = `${stage.prefix}-${props.name}`;
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: stage.logRetention,
      encryptionKey: props.logKey,
      removalPolicy: stage.removalPolicy,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${functionName}: execution role (permissions in its customer-managed policy)`,
    });

    super(scope, id, {
      functionName,
      description: props.description,
      entry: path.join(repoRoot, 'functions', props.name, 'index.ts'),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: path.join(repoRoot, 'package-lock.json'),
      runtime: RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout,
      role,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOGGER_LOG_EVENT: 'false',
        POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
        POWERTOOLS_TRACER_CAPTURE_ERROR: 'false',
        LOG_LEVEL: 'INFO',
        CLOVER_ENVIRONMENT: stage.cloverEnvironment,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        externalModules: NEVER_LOADED_ON_LAMBDA,
        logLevel: LogLevel.ERROR,
      },
    });
    this.houseName = props.name;

    this.policy = new ManagedPolicy(this, 'Policy', {
      description: `${functionName}: least-privilege permissions`,
      roles: [role],
      statements: [
        new PolicyStatement({
          sid: 'WriteOwnLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [logGroup.logGroupArn],
        }),
      ],
    });
    // The function is created only once its permissions are attached (no cold start without logs).
    (this.node.defaultChild as CfnFunction).addResourceDependency(this.policy.node.defaultChild as CfnManagedPolicy);
  }

  /**
   * DynamoDB: `get` = GetItem only; `read` adds Query/BatchGet (table and its indexes); `readwrite`
   * adds writes. `scope` narrows the grant to partition keys and attributes (TableScope).
   */
  useTable(data: Data, access: TableAccess, scope: TableScope = {}): this {
    const { table } = data;
    const actions =
      access === 'get' ? ['dynamodb:GetItem'] : access === 'read' ? TABLE_READ : [...TABLE_READ, ...TABLE_WRITE];
    const resources = access === 'get' ? [table.tableArn] : [table.tableArn, ...data.indexArns];
    const conditions: Record<string, Record<string, unknown>> = {};
    if (scope.leadingKeys) {
      conditions['ForAllValues:StringLike'] = { 'dynamodb:LeadingKeys': [...scope.leadingKeys] };
      conditions.Null = { 'dynamodb:LeadingKeys': 'false' };
    }
    if (scope.attributes) {
      conditions['ForAllValues:StringEquals'] = { 'dynamodb:Attributes': [...scope.attributes] };
      conditions.StringEquals = { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' };
    }
    this.allow(
      `Table${pascal(access)}`,
      actions,
      resources,
      Object.keys(conditions).length > 0 ? conditions : undefined,
    );
    // The table is encrypted with the data key: DynamoDB uses it with the caller's permissions.
    const key = table.encryptionKey;
    if (!key) throw new Error('the table must use a customer-managed key');
    this.allowKey(
      key,
      'dynamodb',
      access === 'readwrite'
        ? ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']
        : ['kms:Decrypt', 'kms:DescribeKey'],
    );
    this.addEnvironment('TABLE_NAME', table.tableName);
    return this;
  }

  /** Reads the app secret (APP_SECRET_ID): the OAuth client, the webhook auth code. */
  useAppSecret(secret: ISecret, key: IKey): this {
    this.allow('ReadAppSecret', ['secretsmanager:GetSecretValue'], [secret.secretArn]);
    this.allowKey(key, 'secretsmanager', ['kms:Decrypt']);
    this.addEnvironment('APP_SECRET_ID', secret.secretArn);
    return this;
  }

  /**
   * Per-merchant OAuth secrets under MERCHANT_SECRET_PREFIX:
   * - `read`: GetSecretValue.
   * - `refresh`: also PutSecretValue, to store a new token pair (refresh before expiry, or once
   *   on a Clover 401).
   * - `manage` (onboarding): also CreateSecret — only with the data key, so the code must pass
   *   MERCHANT_SECRET_KMS_KEY_ID as KmsKeyId — and UpdateSecret/RestoreSecret, for a merchant who
   *   reinstalls while the old secret is still scheduled for deletion.
   */
  useMerchantSecrets(secrets: Secrets, access: MerchantSecretAccess): this {
    const pattern = secrets.merchantSecretArnPattern;
    this.allow('ReadMerchantSecrets', ['secretsmanager:GetSecretValue'], [pattern]);
    this.allowKey(secrets.key, 'secretsmanager', ['kms:Decrypt']);
    if (access === 'refresh' || access === 'manage') {
      this.allow('StoreMerchantTokens', ['secretsmanager:PutSecretValue'], [pattern]);
      this.allowKey(secrets.key, 'secretsmanager', ['kms:GenerateDataKey']);
    }
    if (access === 'manage') {
      this.allow('CreateMerchantSecretsWithDataKey', ['secretsmanager:CreateSecret'], [pattern], {
        StringEquals: { 'secretsmanager:KmsKeyArn': secrets.key.keyArn },
      });
      this.allow('ManageMerchantSecrets', ['secretsmanager:UpdateSecret', 'secretsmanager:RestoreSecret'], [pattern]);
      this.addEnvironment('MERCHANT_SECRET_KMS_KEY_ID', secrets.key.keyArn);
    }
    this.addEnvironment('MERCHANT_SECRET_PREFIX', secrets.merchantSecretPrefix);
    return this;
  }

  /**
   * Schedules deletion of merchant secrets (app uninstall), always with a recovery window: never
   * ForceDeleteWithoutRecovery, and a window of at least MIN_RECOVERY_WINDOW_DAYS, so that a
   * mistaken or forged uninstall can be undone by RestoreSecret. Reading them is a separate grant.
   */
  useMerchantSecretDeletion(secrets: Secrets): this {
    this.allow(
      'DeleteMerchantSecretsRecoverably',
      ['secretsmanager:DeleteSecret'],
      [secrets.merchantSecretArnPattern],
      {
        BoolIfExists: { 'secretsmanager:ForceDeleteWithoutRecovery': 'false' },
        NumericGreaterThanEqualsIfExists: { 'secretsmanager:RecoveryWindowInDays': MIN_RECOVERY_WINDOW_DAYS },
      },
    );
    this.addEnvironment('MERCHANT_SECRET_PREFIX', secrets.merchantSecretPrefix);
    return this;
  }

  /** Flushes the stage's authorizer cache (FlushStageAuthorizersCache), so revoked keys stop at once. */
  useAuthorizerCacheFlush(api: IRestApi, stageName: string): this {
    const { partition, region } = Stack.of(this);
    this.allow(
      'FlushAuthorizerCache',
      ['apigateway:DELETE'],
      [`arn:${partition}:apigateway:${region}::/restapis/${api.restApiId}/stages/${stageName}/cache/authorizers`],
    );
    this.addEnvironment('REST_API_ID', api.restApiId);
    this.addEnvironment('STAGE_NAME', stageName);
    return this;
  }

  /** Puts events on the stack's bus (EVENT_BUS_NAME), and nowhere else. */
  useEventBus(bus: IEventBus): this {
    this.allow('PutEventsOnOwnBus', ['events:PutEvents'], [bus.eventBusArn]);
    this.addEnvironment('EVENT_BUS_NAME', bus.eventBusName);
    return this;
  }

  /**
   * Triggered by the table's stream (an event source mapping, which reads the stream with this
   * role). The grants go on the function's own managed policy — CDK's DynamoEventSource would put
   * them in an inline default policy — and a batch that fails all its retries goes to `dlq`.
   * `filters` are Lambda event filter patterns (records that match none cost nothing).
   */
  consumeTableStream(
    data: Data,
    opts: { id: string; dlq: IQueue; filters: Record<string, unknown>[]; batchSize: number; retryAttempts: number },
  ): CfnEventSourceMapping {
    const { table } = data;
    const streamArn = table.tableStreamArn;
    if (!streamArn) throw new Error('the table has no stream');
    this.allow(
      'ReadTableStream',
      ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      [streamArn],
    );
    this.allow('ListTableStreams', ['dynamodb:ListStreams'], [`${table.tableArn}/stream/*`]);
    const key = table.encryptionKey;
    if (!key) throw new Error('the table must use a customer-managed key');
    this.allowKey(key, 'dynamodb', ['kms:Decrypt', 'kms:DescribeKey']);
    this.allow('StreamFailuresToDlq', ['sqs:SendMessage'], [opts.dlq.queueArn]);
    if (opts.dlq.encryptionMasterKey) {
      this.allowKey(opts.dlq.encryptionMasterKey, 'sqs', ['kms:GenerateDataKey', 'kms:Decrypt']);
    }
    const mapping = new CfnEventSourceMapping(this, opts.id, {
      functionName: this.functionName,
      eventSourceArn: streamArn,
      startingPosition: 'TRIM_HORIZON',
      batchSize: opts.batchSize,
      maximumBatchingWindowInSeconds: 0,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: opts.retryAttempts,
      maximumRecordAgeInSeconds: 86_400,
      filterCriteria: { filters: opts.filters.map((f) => ({ pattern: JSON.stringify(f) })) },
      destinationConfig: { onFailure: { destination: opts.dlq.queueArn } },
    });
    // Lambda checks the role's permissions when the mapping is created.
    mapping.addResourceDependency(this.policy.node.defaultChild as CfnManagedPolicy);
    return mapping;
  }

  private allow(sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>): void {
    this.policy.addStatements(new PolicyStatement({ sid, effect: Effect.ALLOW, actions, resources, conditions }));
  }

  /** One statement per (key, service), so repeated grants merge instead of piling up. */
  private allowKey(key: IKey, service: 'dynamodb' | 'secretsmanager' | 'sqs', actions: string[]): void {
    const id = `${key.node.path}|${service}`;
    let statement = this.keyStatements.get(id);
    if (!statement) {
      statement = new PolicyStatement({
        sid: `DataKeyVia${pascal(service)}`,
        actions: [],
        resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(this).region}.amazonaws.com` } },
      });
      this.keyStatements.set(id, statement);
      this.policy.addStatements(statement);
    }
    const missing = actions.filter((a) => !statement.actions.includes(a));
    if (missing.length > 0) statement.addActions(...missing);
  }
}

function pascal(s: string): string {
  return s.replace(/(^|[^a-z0-9])([a-z0-9])/gi, (_m, _sep, c: string) => c.toUpperCase());
}

/** An uninstalled merchant's OAuth secret stays recoverable this long (shared/secrets/merchant-tokens.ts uses 7). */
export const MIN_RECOVERY_WINDOW_DAYS = 7;

/** Lambda timeouts derived from the Clover client timeout (shared/config.ts CLOVER_TIMEOUT_MS). */
export const CLOVER_TIMEOUT_MS = 8000;
export const cloverCallsTimeout = (calls: number): Duration =>
  Duration.seconds(Math.ceil((calls * CLOVER_TIMEOUT_MS) / 1000) + 2);
