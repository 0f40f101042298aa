/**
 * What IAM checks for one Secrets Manager API call (AWS JSON 1.1, `X-Amz-Target: secretsmanager.<Op>`):
 * first Secrets Manager's own action on the secret, then the KMS calls Secrets Manager makes with
 * the caller's credentials when the secret is encrypted under a customer-managed key (the AWS
 * managed key `aws/secretsmanager` allows every principal of the account through its key policy,
 * so it needs no identity permission). From "Secret encryption and decryption in AWS Secrets
 * Manager" and the API reference's "Required permissions":
 *
 * - GetSecretValue → kms:Decrypt.
 * - PutSecretValue, and UpdateSecret with a new value → kms:GenerateDataKey.
 * - CreateSecret or UpdateSecret that establishes a customer-managed key → kms:GenerateDataKey and
 *   kms:Decrypt (Secrets Manager validates access to the key with both calls).
 * - CreateSecret with Tags also needs secretsmanager:TagResource; with AddReplicaRegions,
 *   secretsmanager:ReplicateSecretToRegions.
 * Not modelled: the kms:Decrypt a PutSecretValue/UpdateSecret makes when it re-sends an existing
 * version (the idempotency comparison), which needs the secret's version history.
 *
 * The KMS checks carry kms:ViaService = `secretsmanager.<region>.amazonaws.com`, kms:CallerAccount
 * and the encryption context Secrets Manager uses (SecretARN, SecretVersionId).
 */
import { UnknownOperationError } from './errors';
import type { AuthorizationRequest, RequestContext } from './policy';
import { defaultSecretSuffix, kmsKeyArn, localKmsKeyId, localResolveContext } from './template';

export interface SecretRecord {
  readonly arn: string;
  readonly name: string;
  /** The ARN of the key that encrypts it; undefined for the AWS managed key aws/secretsmanager. */
  readonly kmsKeyArn?: string;
}

export interface SecretsManagerAuthorizationOptions {
  readonly region: string;
  readonly accountId: string;
  readonly partition?: string;
  /** The secret a SecretId (name, ARN or partial ARN) names in this region, when it exists. */
  readonly findSecret: (secretId: string) => SecretRecord | undefined;
  /** The ARN CreateSecret would give a secret of this name; default `<name>-<defaultSecretSuffix(name)>`. */
  readonly newSecretArn?: (name: string) => string;
  /** A KmsKeyId as a caller may give it (key id, key ARN, alias name or alias ARN) → the key's ARN. */
  readonly resolveKmsKey?: (keyId: string) => string | undefined;
  /** The ARN of the AWS managed key aws/secretsmanager; default `awsManagedSecretsKeyArn(...)`. */
  readonly awsManagedKeyArn?: string;
}

const TARGET_PREFIX = 'secretsmanager.';
const AWS_MANAGED_ALIAS = 'alias/aws/secretsmanager';

/** The local stand-in for the account's aws/secretsmanager key: a stable key id derived from the alias. */
export function awsManagedSecretsKeyArn(region: string, accountId: string, partition = 'aws'): string {
  return kmsKeyArn(localResolveContext({ region, accountId, partition }), localKmsKeyId(AWS_MANAGED_ALIAS));
}

type Json = Record<string, unknown>;
const obj = (x: unknown): Json => (typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Json) : {});
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

/**
 * The checks for one call, in the order Secrets Manager makes them. `body` is the parsed JSON
 * request body. Throws UnknownOperationError when the target is not a Secrets Manager operation.
 */
export function secretsManagerAuthorizations(
  target: string | undefined,
  body: unknown,
  opts: SecretsManagerAuthorizationOptions,
): AuthorizationRequest[] {
  if (target === undefined || !target.startsWith(TARGET_PREFIX) || target.length === TARGET_PREFIX.length) {
    throw new UnknownOperationError(`not a Secrets Manager operation: ${target ?? '(no X-Amz-Target)'}`);
  }
  const op = target.slice(TARGET_PREFIX.length);
  const b = obj(body);
  const partition = opts.partition ?? 'aws';
  const managedKey = opts.awsManagedKeyArn ?? awsManagedSecretsKeyArn(opts.region, opts.accountId, partition);
  const keyArnOf = (keyId: string): string => {
    if (keyId === '' || keyId === AWS_MANAGED_ALIAS || keyId.endsWith(`:${AWS_MANAGED_ALIAS}`)) return managedKey;
    // An id the resolver does not know stays as given: the condition then compares what the caller sent.
    return opts.resolveKmsKey?.(keyId) ?? keyId;
  };
  const sm = (action: string, resource: string, context: RequestContext, messageResource?: string) => {
    const check: AuthorizationRequest = { action: `secretsmanager:${action}`, resource, context };
    return messageResource === undefined ? check : { ...check, messageResource };
  };
  const kms = (actions: readonly string[], keyArn: string | undefined, secretArn: string): AuthorizationRequest[] =>
    keyArn === undefined || keyArn === managedKey
      ? []
      : actions.map((action) => ({
          action: `kms:${action}`,
          resource: keyArn,
          viaService: 'secretsmanager' as const,
          context: {
            'kms:ViaService': `secretsmanager.${opts.region}.amazonaws.com`,
            'kms:CallerAccount': opts.accountId,
            'kms:EncryptionContext:SecretARN': secretArn,
            'kms:EncryptionContextKeys': ['SecretARN', 'SecretVersionId'],
          },
        }));

  const secretId = str(b.SecretId);
  const existing = secretId === undefined ? undefined : opts.findSecret(secretId);
  // A secret that does not exist (yet) is authorized by the ARN it is named by, so a policy on
  // `<prefix>*` lets the call through to its ResourceNotFoundException, as in AWS.
  const secretResource =
    existing?.arn ??
    (secretId?.startsWith('arn:')
      ? secretId
      : `arn:${partition}:secretsmanager:${opts.region}:${opts.accountId}:secret:${secretId ?? ''}`);
  const secretContext: Record<string, string> = {};
  if (secretId !== undefined) secretContext['secretsmanager:SecretId'] = secretId;
  for (const [field, key] of [
    ['VersionId', 'secretsmanager:VersionId'],
    ['VersionStage', 'secretsmanager:VersionStage'],
    ['Description', 'secretsmanager:Description'],
  ] as const) {
    const value = str(b[field]);
    if (value !== undefined) secretContext[key] = value;
  }
  const hasValue = b.SecretString !== undefined || b.SecretBinary !== undefined;

  switch (op) {
    case 'GetSecretValue':
      return [
        sm(op, secretResource, secretContext, secretId),
        ...kms(['Decrypt'], existing?.kmsKeyArn, secretResource),
      ];
    case 'PutSecretValue':
      return [
        sm(op, secretResource, secretContext, secretId),
        ...kms(['GenerateDataKey'], existing?.kmsKeyArn, secretResource),
      ];
    case 'CreateSecret': {
      const name = str(b.Name) ?? '';
      const arn = (opts.newSecretArn ?? ((n: string) => defaultNewSecretArn(n, opts, partition)))(name);
      const keyId = str(b.KmsKeyId);
      const keyArn = keyId === undefined ? managedKey : keyArnOf(keyId);
      const tags = tagContext(b.Tags);
      const replicas = Array.isArray(b.AddReplicaRegions)
        ? b.AddReplicaRegions.map((r) => str(obj(r).Region)).filter((r): r is string => r !== undefined)
        : [];
      const context: Record<string, string | string[]> = {
        ...secretContext,
        ...tags,
        'secretsmanager:Name': name,
        'secretsmanager:KmsKeyArn': keyArn,
      };
      if (replicas.length > 0) context['secretsmanager:AddReplicaRegions'] = replicas;
      return [
        sm(op, arn, context, name),
        ...(b.Tags === undefined ? [] : [sm('TagResource', arn, tags, name)]),
        ...(replicas.length > 0 ? [sm('ReplicateSecretToRegions', arn, {}, name)] : []),
        ...kms(keyId === undefined ? [] : ['GenerateDataKey', 'Decrypt'], keyArn, arn),
      ];
    }
    case 'UpdateSecret': {
      const keyId = str(b.KmsKeyId);
      const context: Record<string, string> = { ...secretContext };
      if (keyId !== undefined) context['secretsmanager:KmsKeyArn'] = keyArnOf(keyId);
      const checks = [sm(op, secretResource, context, secretId)];
      if (keyId !== undefined)
        return [...checks, ...kms(['GenerateDataKey', 'Decrypt'], keyArnOf(keyId), secretResource)];
      return hasValue ? [...checks, ...kms(['GenerateDataKey'], existing?.kmsKeyArn, secretResource)] : checks;
    }
    case 'DeleteSecret': {
      const context: Record<string, string | boolean | number> = { ...secretContext };
      if (typeof b.ForceDeleteWithoutRecovery === 'boolean') {
        context['secretsmanager:ForceDeleteWithoutRecovery'] = b.ForceDeleteWithoutRecovery;
      }
      if (typeof b.RecoveryWindowInDays === 'number') {
        context['secretsmanager:RecoveryWindowInDays'] = b.RecoveryWindowInDays;
      }
      return [sm(op, secretResource, context, secretId)];
    }
    case 'TagResource':
      return [sm(op, secretResource, { ...secretContext, ...tagContext(b.Tags) }, secretId)];
    case 'UntagResource': {
      const keys = Array.isArray(b.TagKeys) ? b.TagKeys.filter((k): k is string => typeof k === 'string') : [];
      return [sm(op, secretResource, { ...secretContext, 'aws:TagKeys': keys }, secretId)];
    }
    case 'ListSecrets':
    case 'GetRandomPassword':
      return [sm(op, '*', {})];
    case 'BatchGetSecretValue': {
      const ids = Array.isArray(b.SecretIdList) ? b.SecretIdList.filter((x): x is string => typeof x === 'string') : [];
      return [
        sm(op, '*', {}),
        ...ids.flatMap((id) => secretsManagerAuthorizations(`${TARGET_PREFIX}GetSecretValue`, { SecretId: id }, opts)),
      ];
    }
    default:
      // RestoreSecret, DescribeSecret, ListSecretVersionIds, UpdateSecretVersionStage, RotateSecret,
      // resource policies, replication...: the action on the secret the call names, or '*'.
      return [secretId === undefined ? sm(op, '*', {}) : sm(op, secretResource, secretContext, secretId)];
  }
}

function defaultNewSecretArn(name: string, opts: SecretsManagerAuthorizationOptions, partition: string): string {
  return `arn:${partition}:secretsmanager:${opts.region}:${opts.accountId}:secret:${name}-${defaultSecretSuffix(name)}`;
}

/** aws:RequestTag/<key> for each tag and aws:TagKeys, as AWS sets them for calls that add tags. */
function tagContext(tags: unknown): Record<string, string | string[]> {
  if (!Array.isArray(tags)) return {};
  const context: Record<string, string | string[]> = {};
  const keys: string[] = [];
  for (const t of tags) {
    const key = str(obj(t).Key);
    if (key === undefined) continue;
    keys.push(key);
    context[`aws:RequestTag/${key}`] = str(obj(t).Value) ?? '';
  }
  context['aws:TagKeys'] = keys;
  return context;
}
