/**
 * Credentials of the local platform: one access key per principal — each function (named as in
 * shared/routes.ts), `ops` (what docs/operations.md tells an operator to have: `npm run keys`) and
 * `admin` (the platform's own set-up and the tests' inspections, like the account that deploys).
 * They are written to `$DATA_DIR/aws-credentials`, an AWS shared-credentials file with one profile
 * per principal, so that anyone can ask "may this function do that?" with the AWS CLI or an SDK:
 *
 *   AWS_SHARED_CREDENTIALS_FILE=.local/aws-credentials aws --profile tokens \
 *     --endpoint-url http://127.0.0.1:8001 secretsmanager get-secret-value --secret-id …
 *
 * Keys are kept across restarts (a shell that exported a profile keeps working) and made anew for
 * principals the file does not have yet.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalCredential {
  readonly profile: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export const CREDENTIALS_FILE = 'aws-credentials';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function accessKeyId(): string {
  // AWS's shape: 20 characters, AKIA + 16 of base32.
  return `AKIA${[...randomBytes(16)].map((b) => ALNUM[b % 32]).join('')}`;
}

/** Parses an AWS shared-credentials (INI) file into profile → keys. */
export function parseCredentialsFile(text: string): Map<string, LocalCredential> {
  const out = new Map<string, LocalCredential>();
  let profile: string | null = null;
  let fields: Record<string, string> = {};
  const flush = () => {
    if (profile && fields.aws_access_key_id && fields.aws_secret_access_key) {
      out.set(profile, {
        profile,
        accessKeyId: fields.aws_access_key_id,
        secretAccessKey: fields.aws_secret_access_key,
      });
    }
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = line.match(/^\[(.+)\]$/);
    if (section) {
      flush();
      profile = section[1]!.trim();
      fields = {};
      continue;
    }
    const kv = line.match(/^([^=]+?)\s*=\s*(.*)$/);
    if (kv) fields[kv[1]!.toLowerCase()] = kv[2]!;
  }
  flush();
  return out;
}

/** Loads `$DATA_DIR/aws-credentials`, adds a key for each missing profile, and writes it back. */
export function ensureCredentials(dataDir: string, profiles: readonly string[]): Map<string, LocalCredential> {
  const file = join(dataDir, CREDENTIALS_FILE);
  const known = existsSync(file) ? parseCredentialsFile(readFileSync(file, 'utf8')) : new Map();
  const out = new Map<string, LocalCredential>();
  for (const profile of profiles) {
    out.set(
      profile,
      known.get(profile) ?? {
        profile,
        accessKeyId: accessKeyId(),
        secretAccessKey: randomBytes(30).toString('base64'),
      },
    );
  }
  const text = [
    "# The local platform's AWS credentials: one profile per function (as named in shared/routes.ts),",
    '# "ops" for the operator tools and "admin" for set-up and inspection. Written by `npm start`.',
    '# Use: AWS_SHARED_CREDENTIALS_FILE=<this file> aws --profile <name> --endpoint-url <endpoint> …',
    '',
    ...[...out.values()].flatMap((c) => [
      `[${c.profile}]`,
      `aws_access_key_id = ${c.accessKeyId}`,
      `aws_secret_access_key = ${c.secretAccessKey}`,
      '',
    ]),
  ].join('\n');
  writeFileSync(file, text, { mode: 0o600 });
  return out;
}

/** The keys of one profile of a running platform's credentials file (tests, tools). */
export function readProfile(dataDir: string, profile: string): LocalCredential {
  const c = parseCredentialsFile(readFileSync(join(dataDir, CREDENTIALS_FILE), 'utf8')).get(profile);
  if (!c) throw new Error(`no profile "${profile}" in ${join(dataDir, CREDENTIALS_FILE)}`);
  return c;
}
