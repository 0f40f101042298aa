/**
 * Local AWS Secrets Manager endpoint (AWS JSON 1.1 over node:http).
 *
 * Speaks the wire protocol the AWS SDKs and the AWS CLI use: `POST /`, `X-Amz-Target: secretsmanager.<Op>`,
 * `Content-Type: application/x-amz-json-1.1`. SigV4 signatures are not verified; only the region is read from the
 * credential scope of the `Authorization` header (default us-east-1). Secrets are regional, as in AWS: a secret created
 * through one region is not visible through another.
 *
 * Operations: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret, UpdateSecretVersionStage, DescribeSecret,
 * DeleteSecret, RestoreSecret, ListSecrets, ListSecretVersionIds, TagResource, UntagResource.
 *
 * Secret values are never logged: `log` lines carry only `<Op> <secret name or -> <HTTP status>`.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { answerBeforeRefusing } from './client-errors';
import type { Denial, SignedRequest } from './iam-enforcement';

export interface SecretsManagerServerOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** JSON file the state is loaded from at start and written to (atomically) after every change; null = memory only. */
  dataFile?: string | null;
  /** Clock used for every date (creation, deletion windows, last access). */
  now?: () => Date;
  /** Receives one line per request: `<Op> <secret name or -> <status>`. Never receives secret values or bodies. */
  log?: (line: string) => void;
  /** The 6 characters after a new secret's name in its ARN; random by default, as in AWS. */
  arnSuffix?: (name: string) => string;
  /**
   * IAM: called for every well-formed request before it is carried out, with a way to find the
   * secret a SecretId names (its ARN and key). A denial is answered as it is; null lets it through.
   */
  authorize?: (req: SignedRequest, lookup: SecretLookup) => Denial | null;
}

export type SecretLookup = (secretId: string, region: string) => { arn: string; kmsKeyId?: string } | undefined;

export interface SecretsManagerFault {
  status: number;
  type: string;
  message?: string;
  times: number;
}

export interface SecretsManagerServer {
  url: string;
  port: number;
  close(): Promise<void>;
  /** test hooks */
  setFault(f: SecretsManagerFault | null): void;
  requestCount(): number;
}

const ACCOUNT_ID = '000000000000';
const DEFAULT_REGION = 'us-east-1';
const AWSCURRENT = 'AWSCURRENT';
const AWSPREVIOUS = 'AWSPREVIOUS';
const AWSPENDING = 'AWSPENDING';
const DAY_MS = 86_400_000;
const MAX_DEPRECATED_VERSIONS = 100;
const MAX_SECRET_BYTES = 65_536;
const MAX_BODY_BYTES = 1 << 20;
const MAX_TAGS = 50;
const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';
const STORE_FORMAT = 'clover-local-secrets-manager';

const NAME_PATTERN = /^[A-Za-z0-9/_+=.@-]+$/;
const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const FILTER_KEYS = ['description', 'name', 'tag-key', 'tag-value', 'primary-region', 'owning-service', 'all'] as const;
type FilterKey = (typeof FILTER_KEYS)[number];

const MSG_NOT_FOUND = "Secrets Manager can't find the specified secret.";
const MSG_MARKED_FOR_DELETION = "You can't perform this operation on the secret because it was marked for deletion.";
const MSG_INVALID_NAME =
  'Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!';
const MSG_TOKEN_REQUIRED = 'You must provide a ClientRequestToken value. We recommend a UUID-type value.';
const MSG_BOTH_VALUES = "You can't specify both a binary secret value and a string secret value in the same secret.";
const MSG_MODIFY_VERSION = "You can't modify an existing version, you can only create a new version.";

interface Tag {
  Key?: string;
  Value?: string;
}

interface StoredVersion {
  versionId: string;
  secretString?: string;
  /** canonical base64 */
  secretBinary?: string;
  stages: string[];
  createdMs: number;
  lastAccessedMs?: number;
}

interface StoredSecret {
  region: string;
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  /** undefined until tags are first set; AWS then reports `Tags` even when empty. */
  tags?: Tag[];
  createdMs: number;
  lastChangedMs: number;
  lastAccessedMs?: number;
  /** when DeleteSecret was called (DescribeSecret/ListSecrets `DeletedDate`) */
  deletedMs?: number;
  /** when the secret is purged for good (DeleteSecret `DeletionDate`) */
  deletionMs?: number;
  /** in creation order */
  versions: StoredVersion[];
}

interface StoreFile {
  format: typeof STORE_FORMAT;
  version: 1;
  secrets: StoredSecret[];
}

type Json = Record<string, unknown>;

interface Ctx {
  region: string;
  nowMs: number;
}

interface OpResult {
  body: Json;
  /** state changed and must be persisted */
  mutated: boolean;
}

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const epoch = (ms: number): number => ms / 1000;
const startOfDayMs = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;
const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

function jsonKind(v: unknown): string {
  if (v === null) return 'VALUE_NULL';
  if (Array.isArray(v)) return 'START_ARRAY';
  switch (typeof v) {
    case 'string':
      return 'VALUE_STRING';
    case 'number':
      return Number.isInteger(v) ? 'VALUE_NUMBER_INT' : 'VALUE_NUMBER_FLOAT';
    case 'boolean':
      return v ? 'VALUE_TRUE' : 'VALUE_FALSE';
    default:
      return 'START_OBJECT';
  }
}

const cannotConvert = (v: unknown, target: string): AwsError =>
  new AwsError('SerializationException', `${jsonKind(v)} can not be converted to ${target}`);

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  /** value is not echoed in validation messages */
  sensitive?: boolean;
}

/**
 * Reads request members with AWS semantics: a member of the wrong JSON type is a SerializationException,
 * a missing required member or a broken length/range constraint is a ValidationException
 * ("N validation error(s) detected: ..."), reported all at once.
 */
class Input {
  private readonly errors: string[] = [];

  constructor(private readonly body: Json) {}

  fail(value: unknown, path: string, constraint: string, sensitive = false): void {
    const shown = value === undefined ? 'null ' : sensitive ? '' : `'${String(value)}' `;
    this.errors.push(`Value ${shown}at '${path}' failed to satisfy constraint: ${constraint}`);
  }

  private checkLength(value: string, path: string, rule: StringRule): void {
    if (rule.min !== undefined && value.length < rule.min) {
      this.fail(value, path, `Member must have length greater than or equal to ${rule.min}`, rule.sensitive);
    }
    if (rule.max !== undefined && value.length > rule.max) {
      this.fail(value, path, `Member must have length less than or equal to ${rule.max}`, rule.sensitive);
    }
  }

  private raw(key: string): unknown {
    const v = this.body[key];
    return v === null ? undefined : v;
  }

  string(key: string, rule: StringRule = {}): string | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (rule.required) this.fail(undefined, lowerFirst(key), 'Member must not be null');
      return undefined;
    }
    if (typeof v !== 'string') throw cannotConvert(v, 'String');
    this.checkLength(v, lowerFirst(key), rule);
    return v;
  }

  int(key: string, min: number, max: number): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw cannotConvert(v, 'Long');
    if (v < min) this.fail(v, lowerFirst(key), `Member must have value greater than or equal to ${min}`);
    if (v > max) this.fail(v, lowerFirst(key), `Member must have value less than or equal to ${max}`);
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw cannotConvert(v, 'Boolean');
    return v;
  }

  stringList(
    key: string,
    rule: { required?: boolean; minItems?: number; maxItems?: number; item?: StringRule } = {},
  ): string[] | undefined {
    const v = this.raw(key);
    const path = lowerFirst(key);
    if (v === undefined) {
      if (rule.required) this.fail(undefined, path, 'Member must not be null');
      return undefined;
    }
    if (!Array.isArray(v)) throw cannotConvert(v, 'List');
    if (rule.minItems !== undefined && v.length < rule.minItems) {
      this.fail(`[${v.join(', ')}]`, path, `Member must have length greater than or equal to ${rule.minItems}`);
    }
    if (rule.maxItems !== undefined && v.length > rule.maxItems) {
      this.fail(`[${v.join(', ')}]`, path, `Member must have length less than or equal to ${rule.maxItems}`);
    }
    return v.map((item, i) => {
      if (typeof item !== 'string') throw cannotConvert(item, 'String');
      if (rule.item) this.checkLength(item, `${path}.${i + 1}.member`, rule.item);
      return item;
    });
  }

  tags(key: string, required = false): Tag[] | undefined {
    const v = this.raw(key);
    const path = lowerFirst(key);
    if (v === undefined) {
      if (required) this.fail(undefined, path, 'Member must not be null');
      return undefined;
    }
    if (!Array.isArray(v)) throw cannotConvert(v, 'List');
    return v.map((item, i) => {
      if (!isObject(item)) throw cannotConvert(item, 'Tag');
      const tag: Tag = {};
      for (const member of ['Key', 'Value'] as const) {
        const m = item[member] ?? undefined;
        if (m === undefined) continue;
        if (typeof m !== 'string') throw cannotConvert(m, 'String');
        this.checkLength(m, `${path}.${i + 1}.member.${lowerFirst(member)}`, {
          min: member === 'Key' ? 1 : 0,
          max: member === 'Key' ? 128 : 256,
        });
        tag[member] = m;
      }
      return tag;
    });
  }

  filters(key: string): { key: FilterKey; values: string[] }[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw cannotConvert(v, 'List');
    if (v.length > 10) this.fail('[...]', 'filters', 'Member must have length less than or equal to 10');
    return v.map((item, i) => {
      if (!isObject(item)) throw cannotConvert(item, 'Filter');
      const k = item.Key ?? undefined;
      const values = item.Values ?? undefined;
      if (k !== undefined && typeof k !== 'string') throw cannotConvert(k, 'String');
      if (values !== undefined && !Array.isArray(values)) throw cannotConvert(values, 'List');
      const path = `filters.${i + 1}.member`;
      if (k === undefined || !(FILTER_KEYS as readonly string[]).includes(k)) {
        this.fail(k, `${path}.key`, `Member must satisfy enum value set: [${FILTER_KEYS.join(', ')}]`);
      }
      const list = (values ?? []).map((x) => {
        if (typeof x !== 'string') throw cannotConvert(x, 'String');
        if (x.length > 512) this.fail(x, `${path}.values`, 'Member must have length less than or equal to 512');
        return x;
      });
      if (values !== undefined && (list.length < 1 || list.length > 10)) {
        this.fail(`[${list.join(', ')}]`, `${path}.values`, 'Member must have length between 1 and 10');
      }
      return { key: (k ?? 'all') as FilterKey, values: list };
    });
  }

  /** Throws the collected ValidationException, if any. */
  done(): void {
    if (this.errors.length === 0) return;
    const n = this.errors.length;
    throw new AwsError(
      'ValidationException',
      `${n} validation error${n > 1 ? 's' : ''} detected: ${this.errors.join('; ')}`,
    );
  }
}

interface SecretValue {
  secretString?: string;
  secretBinary?: string;
}

function readSecretValue(input: Input): SecretValue | undefined {
  const secretString = input.string('SecretString', { max: MAX_SECRET_BYTES, sensitive: true });
  const rawBinary = input.string('SecretBinary');
  let secretBinary: string | undefined;
  if (rawBinary !== undefined) {
    if (!BASE64_PATTERN.test(rawBinary)) {
      throw new AwsError('SerializationException', 'Base64 encoded value of SecretBinary is invalid.');
    }
    const bytes = Buffer.from(rawBinary, 'base64');
    if (bytes.length > MAX_SECRET_BYTES) {
      input.fail('', 'secretBinary', `Member must have length less than or equal to ${MAX_SECRET_BYTES}`, true);
    }
    secretBinary = bytes.toString('base64');
  }
  input.done();
  if (secretString !== undefined && secretBinary !== undefined) {
    throw new AwsError('InvalidParameterException', MSG_BOTH_VALUES);
  }
  if (secretString !== undefined) return { secretString };
  if (secretBinary !== undefined) return { secretBinary };
  return undefined;
}

const sameValue = (v: StoredVersion, value: SecretValue): boolean =>
  v.secretString === value.secretString && v.secretBinary === value.secretBinary;

function addStage(v: StoredVersion, stage: string): void {
  if (!v.stages.includes(stage)) {
    v.stages.push(stage);
    v.stages.sort();
  }
}

function removeStage(v: StoredVersion, stage: string): void {
  const i = v.stages.indexOf(stage);
  if (i >= 0) v.stages.splice(i, 1);
}

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)];
  return s;
}

function regionOf(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\//.exec(auth) : null;
  return m?.[1] ?? DEFAULT_REGION;
}

function versionsToStages(s: StoredSecret): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  let any = false;
  for (const v of s.versions) {
    if (v.stages.length === 0) continue;
    out[v.versionId] = [...v.stages];
    any = true;
  }
  return any ? out : undefined;
}

/** The fields DescribeSecret and ListSecrets share. */
function secretMetadata(s: StoredSecret): Json {
  const out: Json = { ARN: s.arn, Name: s.name };
  if (s.description !== undefined) out.Description = s.description;
  if (s.kmsKeyId !== undefined) out.KmsKeyId = s.kmsKeyId;
  out.LastChangedDate = epoch(s.lastChangedMs);
  if (s.lastAccessedMs !== undefined) out.LastAccessedDate = epoch(s.lastAccessedMs);
  if (s.deletedMs !== undefined) out.DeletedDate = epoch(s.deletedMs);
  if (s.tags !== undefined) out.Tags = s.tags.map((t) => ({ ...t }));
  out.CreatedDate = epoch(s.createdMs);
  return out;
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset })).toString('base64');
}

function decodeToken(token: string | undefined): number {
  if (token === undefined) return 0;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (isObject(parsed) && typeof parsed.o === 'number' && Number.isInteger(parsed.o) && parsed.o >= 0) {
      return parsed.o;
    }
  } catch {
    // fall through
  }
  throw new AwsError('InvalidNextTokenException', 'The NextToken value is invalid.');
}

/** Splits a free-text search into words: on punctuation, letter/digit changes and lower→upper case changes. */
function searchWords(text: string): string[] {
  return text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/([A-Za-z])([0-9])/g, '$1 $2')
    .replace(/([0-9])([A-Za-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

function filterMatches(s: StoredSecret, key: FilterKey, rawValue: string): boolean {
  const negate = rawValue.startsWith('!');
  const value = negate ? rawValue.slice(1) : rawValue;
  let hit: boolean;
  switch (key) {
    case 'name':
      hit = s.name.startsWith(value);
      break;
    case 'description':
      hit = (s.description ?? '').toLowerCase().startsWith(value.toLowerCase());
      break;
    case 'tag-key':
      hit = (s.tags ?? []).some((t) => (t.Key ?? '').startsWith(value));
      break;
    case 'tag-value':
      hit = (s.tags ?? []).some((t) => (t.Value ?? '').startsWith(value));
      break;
    case 'primary-region':
    case 'owning-service':
      // no replicated or service-owned secrets here
      hit = false;
      break;
    case 'all': {
      const haystack = [s.name, s.description ?? '', ...(s.tags ?? []).flatMap((t) => [t.Key ?? '', t.Value ?? ''])]
        .join(' ')
        .toLowerCase();
      hit = searchWords(value).some((w) => haystack.includes(w));
      break;
    }
  }
  return negate ? !hit : hit;
}

/** The in-memory state and the operations on it. Handlers are synchronous, so each operation is atomic. */
class SecretsStore {
  secrets: StoredSecret[] = [];

  constructor(private readonly arnSuffix: (name: string) => string = randomSuffix) {}

  toFile(): StoreFile {
    return { format: STORE_FORMAT, version: 1, secrets: this.secrets };
  }

  load(data: unknown, file: string): void {
    if (!isObject(data) || data.format !== STORE_FORMAT || !Array.isArray(data.secrets)) {
      throw new Error(`${file} is not a local Secrets Manager data file`);
    }
    this.secrets = data.secrets as StoredSecret[];
  }

  /** Removes secrets whose recovery window has passed. Returns true if anything was removed. */
  purgeExpired(nowMs: number): boolean {
    const before = this.secrets.length;
    this.secrets = this.secrets.filter((s) => s.deletionMs === undefined || s.deletionMs > nowMs);
    return this.secrets.length !== before;
  }

  /** The ARN and key of the secret an id names (for IAM), or undefined. */
  describeForAuth(region: string, id: string): { arn: string; kmsKeyId?: string } | undefined {
    const s = this.lookup(region, id);
    return s ? { arn: s.arn, kmsKeyId: s.kmsKeyId } : undefined;
  }

  private lookup(region: string, id: string): StoredSecret | undefined {
    const inRegion = this.secrets.filter((s) => s.region === region);
    const exact = inRegion.find((s) => s.name === id || s.arn === id);
    if (exact || !id.startsWith('arn:')) return exact;
    // partial ARN: the ARN without the "-XXXXXX" suffix
    return inRegion.find((s) => s.arn.slice(0, -7) === id);
  }

  private secretId(input: Input): string {
    const id = input.string('SecretId', { required: true, min: 1, max: 2048 });
    input.done();
    if (id === undefined) throw new AwsError('ValidationException', 'SecretId is required');
    if (!id.startsWith('arn:') && !NAME_PATTERN.test(id)) throw new AwsError('ValidationException', MSG_INVALID_NAME);
    return id;
  }

  private find(ctx: Ctx, input: Input, opts: { allowDeleted?: boolean } = {}): StoredSecret {
    const s = this.lookup(ctx.region, this.secretId(input));
    if (!s) throw new AwsError('ResourceNotFoundException', MSG_NOT_FOUND);
    if (!opts.allowDeleted && s.deletedMs !== undefined) {
      throw new AwsError('InvalidRequestException', MSG_MARKED_FOR_DELETION);
    }
    return s;
  }

  private token(input: Input): string | undefined {
    return input.string('ClientRequestToken', { min: 32, max: 64 });
  }

  /** Moves each label onto `target`; moving AWSCURRENT leaves AWSPREVIOUS on the version it came from. */
  private attachStages(s: StoredSecret, target: StoredVersion, stages: string[], fromValueWrite: boolean): void {
    const ordered = [...new Set(stages)].sort((a, b) => (a === AWSCURRENT ? -1 : b === AWSCURRENT ? 1 : 0));
    for (const stage of ordered) {
      const holder = s.versions.find((v) => v !== target && v.stages.includes(stage));
      if (holder) {
        removeStage(holder, stage);
        if (stage === AWSCURRENT) {
          for (const v of s.versions) removeStage(v, AWSPREVIOUS);
          addStage(holder, AWSPREVIOUS);
          // AWS drops a finished rotation's AWSPENDING from the old current version when a new value becomes current.
          if (fromValueWrite && !ordered.includes(AWSPENDING)) removeStage(holder, AWSPENDING);
        }
      } else if (stage === AWSCURRENT) {
        removeStage(target, AWSPREVIOUS);
      }
      addStage(target, stage);
    }
    this.pruneDeprecated(s);
  }

  private pruneDeprecated(s: StoredSecret): void {
    let deprecated = s.versions.filter((v) => v.stages.length === 0).length;
    while (deprecated > MAX_DEPRECATED_VERSIONS) {
      const i = s.versions.findIndex((v) => v.stages.length === 0);
      s.versions.splice(i, 1);
      deprecated--;
    }
  }

  /** Adds a version (or recognises an idempotent retry). Returns the version and whether anything changed. */
  private writeVersion(
    ctx: Ctx,
    s: StoredSecret,
    value: SecretValue,
    token: string,
    stages: string[],
  ): { version: StoredVersion; created: boolean } {
    const existing = s.versions.find((v) => v.versionId === token);
    if (existing) {
      if (!sameValue(existing, value)) throw new AwsError('ResourceExistsException', MSG_MODIFY_VERSION);
      return { version: existing, created: false };
    }
    const version: StoredVersion = { versionId: token, ...value, stages: [], createdMs: ctx.nowMs };
    s.versions.push(version);
    this.attachStages(s, version, stages, true);
    s.lastChangedMs = ctx.nowMs;
    return { version, created: true };
  }

  CreateSecret(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const name = input.string('Name', { required: true, min: 1, max: 512 });
    const token = this.token(input);
    const description = input.string('Description', { max: 2048 });
    const kmsKeyId = input.string('KmsKeyId', { max: 2048 });
    const tags = input.tags('Tags');
    input.bool('ForceOverwriteReplicaSecret');
    const value = readSecretValue(input);
    input.done();
    if (name === undefined) throw new AwsError('ValidationException', 'Name is required');
    if (!NAME_PATTERN.test(name)) throw new AwsError('ValidationException', MSG_INVALID_NAME);
    if (value !== undefined && token === undefined) throw new AwsError('InvalidRequestException', MSG_TOKEN_REQUIRED);
    if (tags && tags.length > MAX_TAGS) {
      throw new AwsError('ValidationException', `Number of tags exceeds the limit of ${MAX_TAGS}.`);
    }

    const existing = this.secrets.find((s) => s.region === ctx.region && s.name === name);
    if (existing) {
      if (existing.deletedMs !== undefined) {
        throw new AwsError(
          'InvalidRequestException',
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      // An SDK retry of a CreateSecret that already succeeded: same token, same value → same answer.
      const retried = token !== undefined ? existing.versions.find((v) => v.versionId === token) : undefined;
      if (retried && value !== undefined && sameValue(retried, value)) {
        return { body: { ARN: existing.arn, Name: existing.name, VersionId: retried.versionId }, mutated: false };
      }
      throw new AwsError('ResourceExistsException', `The operation failed because the secret ${name} already exists.`);
    }

    const s: StoredSecret = {
      region: ctx.region,
      name,
      arn: `arn:aws:secretsmanager:${ctx.region}:${ACCOUNT_ID}:secret:${name}-${this.arnSuffix(name)}`,
      createdMs: ctx.nowMs,
      lastChangedMs: ctx.nowMs,
      versions: [],
    };
    if (description !== undefined) s.description = description;
    if (kmsKeyId !== undefined) s.kmsKeyId = kmsKeyId;
    if (tags !== undefined && tags.length > 0) s.tags = tags;
    const out: Json = { ARN: s.arn, Name: s.name };
    if (value !== undefined && token !== undefined) {
      out.VersionId = this.writeVersion(ctx, s, value, token, [AWSCURRENT]).version.versionId;
    }
    this.secrets.push(s);
    return { body: out, mutated: true };
  }

  GetSecretValue(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const versionId = input.string('VersionId', { min: 32, max: 64 });
    const versionStage = input.string('VersionStage', { min: 1, max: 256 });
    const s = this.find(ctx, input);
    let v: StoredVersion | undefined;
    if (versionId !== undefined) {
      v = s.versions.find((x) => x.versionId === versionId);
      if (!v) {
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`,
        );
      }
      if (versionStage !== undefined && !v.stages.includes(versionStage)) {
        throw new AwsError(
          'InvalidRequestException',
          'You provided a VersionStage that is not associated to the provided VersionId.',
        );
      }
    } else {
      const stage = versionStage ?? AWSCURRENT;
      v = s.versions.find((x) => x.stages.includes(stage));
      if (!v) {
        throw new AwsError(
          'ResourceNotFoundException',
          `Secrets Manager can't find the specified secret value for staging label: ${stage}`,
        );
      }
    }
    // LastAccessedDate is kept to the day, as AWS does; persist only when the day changes.
    const day = startOfDayMs(ctx.nowMs);
    const mutated = s.lastAccessedMs !== day || v.lastAccessedMs !== day;
    s.lastAccessedMs = day;
    v.lastAccessedMs = day;
    const out: Json = { ARN: s.arn, Name: s.name, VersionId: v.versionId };
    if (v.secretString !== undefined) out.SecretString = v.secretString;
    if (v.secretBinary !== undefined) out.SecretBinary = v.secretBinary;
    out.VersionStages = [...v.stages];
    out.CreatedDate = epoch(v.createdMs);
    return { body: out, mutated };
  }

  PutSecretValue(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const token = this.token(input);
    const stages = input.stringList('VersionStages', { minItems: 1, maxItems: 20, item: { min: 1, max: 256 } });
    input.string('RotationToken', { min: 36, max: 256, sensitive: true });
    const value = readSecretValue(input);
    const s = this.find(ctx, input);
    if (value === undefined) {
      throw new AwsError('InvalidRequestException', 'You must provide either SecretString or SecretBinary.');
    }
    if (token === undefined) throw new AwsError('InvalidRequestException', MSG_TOKEN_REQUIRED);
    const { version, created } = this.writeVersion(ctx, s, value, token, stages ?? [AWSCURRENT]);
    return {
      body: { ARN: s.arn, Name: s.name, VersionId: version.versionId, VersionStages: [...version.stages] },
      mutated: created,
    };
  }

  UpdateSecret(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const token = this.token(input);
    const description = input.string('Description', { max: 2048 });
    const kmsKeyId = input.string('KmsKeyId', { max: 2048 });
    const value = readSecretValue(input);
    const s = this.find(ctx, input);
    if (value !== undefined && token === undefined) throw new AwsError('InvalidRequestException', MSG_TOKEN_REQUIRED);
    const out: Json = { ARN: s.arn, Name: s.name };
    let mutated = false;
    if (description !== undefined) s.description = description;
    if (kmsKeyId !== undefined) s.kmsKeyId = kmsKeyId;
    if (description !== undefined || kmsKeyId !== undefined) {
      s.lastChangedMs = ctx.nowMs;
      mutated = true;
    }
    if (value !== undefined && token !== undefined) {
      const { version, created } = this.writeVersion(ctx, s, value, token, [AWSCURRENT]);
      out.VersionId = version.versionId;
      mutated ||= created;
    }
    return { body: out, mutated };
  }

  UpdateSecretVersionStage(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const stage = input.string('VersionStage', { required: true, min: 1, max: 256 });
    const removeFrom = input.string('RemoveFromVersionId', { min: 32, max: 64 });
    const moveTo = input.string('MoveToVersionId', { min: 32, max: 64 });
    const s = this.find(ctx, input);
    if (stage === undefined) throw new AwsError('ValidationException', 'VersionStage is required');
    const byId = (id: string): StoredVersion => {
      const v = s.versions.find((x) => x.versionId === id);
      if (!v) throw new AwsError('InvalidParameterException', `Not a valid version: ${id}`);
      return v;
    };
    const holder = s.versions.find((v) => v.stages.includes(stage));
    const from = removeFrom !== undefined ? byId(removeFrom) : undefined;
    if (from && !from.stages.includes(stage)) {
      throw new AwsError('InvalidParameterException', `Version stage ${stage} not found in version ${from.versionId}`);
    }
    if (moveTo === undefined) {
      if (!from) {
        throw new AwsError('InvalidParameterException', 'You must specify MoveToVersionId or RemoveFromVersionId.');
      }
      if (stage === AWSCURRENT) {
        throw new AwsError(
          'InvalidParameterException',
          "You can't remove the staging label AWSCURRENT; you can only move it to another version.",
        );
      }
      removeStage(from, stage);
    } else {
      const to = byId(moveTo);
      if (holder && holder !== to && holder !== from) {
        throw new AwsError(
          'InvalidParameterException',
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${holder.versionId}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      if (holder !== to) this.attachStages(s, to, [stage], false);
    }
    this.pruneDeprecated(s);
    s.lastChangedMs = ctx.nowMs;
    return { body: { ARN: s.arn, Name: s.name }, mutated: true };
  }

  DescribeSecret(body: Json, ctx: Ctx): OpResult {
    const s = this.find(ctx, new Input(body), { allowDeleted: true });
    const out = secretMetadata(s);
    const stages = versionsToStages(s);
    if (stages) out.VersionIdsToStages = stages;
    return { body: out, mutated: false };
  }

  DeleteSecret(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const window = input.int('RecoveryWindowInDays', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    const force = input.bool('ForceDeleteWithoutRecovery') === true;
    const id = this.secretId(input);
    if (force && window !== undefined) {
      throw new AwsError(
        'InvalidParameterException',
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    if (window !== undefined && (window < 7 || window > 30)) {
      throw new AwsError(
        'InvalidParameterException',
        'The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).',
      );
    }
    const s = this.lookup(ctx.region, id);
    if (!s) {
      // AWS: force-deleting a nonexistent secret is not a ResourceNotFoundException.
      if (force) {
        const out: Json = { Name: id.startsWith('arn:') ? (id.split(':secret:')[1] ?? id) : id };
        if (id.startsWith('arn:')) out.ARN = id;
        out.DeletionDate = epoch(ctx.nowMs);
        return { body: out, mutated: false };
      }
      throw new AwsError('ResourceNotFoundException', MSG_NOT_FOUND);
    }
    if (force) {
      this.secrets = this.secrets.filter((x) => x !== s);
      return { body: { ARN: s.arn, Name: s.name, DeletionDate: epoch(ctx.nowMs) }, mutated: true };
    }
    if (s.deletedMs !== undefined) {
      throw new AwsError(
        'InvalidRequestException',
        "You tried to perform the operation on a secret that's currently marked deleted.",
      );
    }
    s.deletedMs = ctx.nowMs;
    s.deletionMs = ctx.nowMs + (window ?? 30) * DAY_MS;
    s.lastChangedMs = ctx.nowMs;
    return { body: { ARN: s.arn, Name: s.name, DeletionDate: epoch(s.deletionMs) }, mutated: true };
  }

  RestoreSecret(body: Json, ctx: Ctx): OpResult {
    const s = this.find(ctx, new Input(body), { allowDeleted: true });
    const mutated = s.deletedMs !== undefined;
    if (mutated) {
      delete s.deletedMs;
      delete s.deletionMs;
      s.lastChangedMs = ctx.nowMs;
    }
    return { body: { ARN: s.arn, Name: s.name }, mutated };
  }

  ListSecrets(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const includeDeleted = input.bool('IncludePlannedDeletion') === true;
    const max = input.int('MaxResults', 1, 100) ?? 100;
    const next = input.string('NextToken', { min: 1, max: 4096 });
    const filters = input.filters('Filters') ?? [];
    const order = input.string('SortOrder');
    input.done();
    if (order !== undefined && order !== 'asc' && order !== 'desc') {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${order}' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]`,
      );
    }
    let matching = this.secrets.filter(
      (s) =>
        s.region === ctx.region &&
        (includeDeleted || s.deletedMs === undefined) &&
        filters.every((f) => f.values.some((value) => filterMatches(s, f.key, value))),
    );
    if (order === 'desc') matching = [...matching].reverse();
    const offset = decodeToken(next);
    const page = matching.slice(offset, offset + max);
    const out: Json = {
      SecretList: page.map((s) => {
        const entry = secretMetadata(s);
        const stages = versionsToStages(s);
        if (stages) entry.SecretVersionsToStages = stages;
        return entry;
      }),
    };
    if (offset + max < matching.length) out.NextToken = encodeToken(offset + max);
    return { body: out, mutated: false };
  }

  ListSecretVersionIds(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const max = input.int('MaxResults', 1, 100) ?? 100;
    const next = input.string('NextToken', { min: 1, max: 4096 });
    const includeDeprecated = input.bool('IncludeDeprecated') === true;
    const s = this.find(ctx, input);
    const versions = s.versions.filter((v) => includeDeprecated || v.stages.length > 0);
    const offset = decodeToken(next);
    const out: Json = {
      Versions: versions.slice(offset, offset + max).map((v) => {
        const entry: Json = { VersionId: v.versionId };
        if (v.stages.length > 0) entry.VersionStages = [...v.stages];
        if (v.lastAccessedMs !== undefined) entry.LastAccessedDate = epoch(v.lastAccessedMs);
        entry.CreatedDate = epoch(v.createdMs);
        entry.KmsKeyIds = [s.kmsKeyId ?? 'DefaultEncryptionKey'];
        return entry;
      }),
      ARN: s.arn,
      Name: s.name,
    };
    if (offset + max < versions.length) out.NextToken = encodeToken(offset + max);
    return { body: out, mutated: false };
  }

  TagResource(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const tags = input.tags('Tags', true) ?? [];
    const s = this.find(ctx, input);
    const merged = new Map<string, Tag>((s.tags ?? []).map((t) => [t.Key ?? '', t]));
    for (const t of tags) merged.set(t.Key ?? '', t);
    if (merged.size > MAX_TAGS) {
      throw new AwsError('ValidationException', `Number of tags exceeds the limit of ${MAX_TAGS}.`);
    }
    s.tags = [...merged.values()];
    s.lastChangedMs = ctx.nowMs;
    return { body: {}, mutated: true };
  }

  UntagResource(body: Json, ctx: Ctx): OpResult {
    const input = new Input(body);
    const keys = input.stringList('TagKeys', { required: true }) ?? [];
    const s = this.find(ctx, input);
    s.tags = (s.tags ?? []).filter((t) => !keys.includes(t.Key ?? ''));
    s.lastChangedMs = ctx.nowMs;
    return { body: {}, mutated: true };
  }
}

const OPERATIONS = [
  'CreateSecret',
  'GetSecretValue',
  'PutSecretValue',
  'UpdateSecret',
  'UpdateSecretVersionStage',
  'DescribeSecret',
  'DeleteSecret',
  'RestoreSecret',
  'ListSecrets',
  'ListSecretVersionIds',
  'TagResource',
  'UntagResource',
] as const;
type Operation = (typeof OPERATIONS)[number];
const isOperation = (op: string): op is Operation => (OPERATIONS as readonly string[]).includes(op);

async function loadStore(store: SecretsStore, file: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // Refuse to start (and later overwrite the file) rather than silently losing secrets.
    throw new Error(`${file} is not valid JSON`);
  }
  store.load(data, file);
}

/** Writes `text` to `file` atomically: temp file in the same directory (mode 0600), then rename. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Name to log: the secret's name (never a value). ARNs are shortened to their name part. */
function logName(body: Json): string {
  const raw = typeof body.Name === 'string' ? body.Name : typeof body.SecretId === 'string' ? body.SecretId : '-';
  const fromArn = raw.startsWith('arn:') ? raw.split(':secret:')[1] : undefined;
  const name = fromArn ?? raw;
  return name.length > 0 && name.length <= 512 && !/\s/.test(name) ? name : '-';
}

export async function startSecretsManager(opts: SecretsManagerServerOptions = {}): Promise<SecretsManagerServer> {
  const host = opts.host ?? '127.0.0.1';
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? (() => {});
  const dataFile = opts.dataFile ?? null;
  const store = new SecretsStore(opts.arnSuffix);

  if (dataFile !== null) {
    await mkdir(dirname(dataFile), { recursive: true });
    await loadStore(store, dataFile);
  }

  let fault: SecretsManagerFault | null = null;
  let requests = 0;
  let writes: Promise<void> = Promise.resolve();

  const persist = (): Promise<void> => {
    if (dataFile === null) return Promise.resolve();
    const text = JSON.stringify(store.toFile()); // snapshot now, write in order
    const write = writes.then(() => writeAtomic(dataFile, text));
    writes = write.catch(() => {});
    return write;
  };

  const send = (res: ServerResponse, status: number, body: Json, errorType?: string): void => {
    const payload = JSON.stringify(body);
    const headers: Record<string, string | number> = {
      'content-type': JSON_CONTENT_TYPE,
      'content-length': Buffer.byteLength(payload),
      'x-amzn-requestid': randomUUID(),
    };
    if (errorType !== undefined) headers['x-amzn-errortype'] = errorType;
    res.writeHead(status, headers);
    res.end(payload);
  };

  const sendError = (res: ServerResponse, e: AwsError): void =>
    send(res, e.status, { __type: e.type, message: e.message }, e.type);

  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer, tooLarge: boolean): Promise<void> => {
    const target = req.headers['x-amz-target'];
    const op = typeof target === 'string' && target.startsWith('secretsmanager.') ? target.slice(15) : '';
    let name = '-';
    let status = 200;
    try {
      if (fault !== null && fault.times > 0) {
        const f = fault;
        f.times--;
        if (f.times <= 0) fault = null;
        throw new AwsError(f.type, f.message ?? `Injected fault: ${f.type}`, f.status);
      }
      if (tooLarge) throw new AwsError('SerializationException', 'Request body is too large.', 413);
      if (req.method !== 'POST' || !isOperation(op)) {
        throw new AwsError(
          'UnknownOperationException',
          typeof target === 'string' ? `Unknown operation ${target}` : 'Missing X-Amz-Target header',
        );
      }
      let body: unknown;
      try {
        const text = raw.toString('utf8');
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        throw new AwsError('SerializationException', 'Start of structure or map found where not expected.');
      }
      if (!isObject(body))
        throw new AwsError('SerializationException', `${jsonKind(body)} can not be converted to Map`);
      name = logName(body);
      const denial = opts.authorize?.(
        {
          service: 'secretsmanager',
          method: req.method ?? 'POST',
          url: req.url ?? '/',
          headers: req.headers,
          body: raw,
        },
        (id, region) => store.describeForAuth(region, id),
      );
      if (denial) {
        status = denial.status;
        res.writeHead(denial.status, denial.headers);
        res.end(denial.body);
        return;
      }
      const ctx: Ctx = { region: regionOf(req), nowMs: now().getTime() };
      const purged = store.purgeExpired(ctx.nowMs);
      let result: OpResult;
      try {
        result = store[op](body, ctx);
      } catch (e) {
        if (purged) await persist();
        throw e;
      }
      if (result.mutated || purged) await persist();
      send(res, 200, result.body);
    } catch (e) {
      const err =
        e instanceof AwsError ? e : new AwsError('InternalServiceError', 'An error occurred on the server side.', 500);
      status = err.status;
      sendError(res, err);
    } finally {
      log(`${op || '-'} ${name} ${status}`);
    }
  };

  const server = createServer((req, res) => {
    requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks), tooLarge);
    });
    req.on('error', () => res.destroy());
  });
  server.keepAliveTimeout = 5_000;
  answerBeforeRefusing(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}`,
    port,
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      await writes;
    },
    setFault(f) {
      fault = f && f.times > 0 ? { ...f } : null;
    },
    requestCount: () => requests,
  };
}
