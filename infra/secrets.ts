/**
 * Secrets Manager layout.
 *
 * The app secret, `clover-payments/<stage>/app`, is created here with placeholder values and
 * filled in once by an operator (docs/deploy.md). Its SecretString is one JSON object, the shape
 * shared/secrets/app-config.ts parses:
 *
 * ```json
 * {
 *   "client_id": "Clover app ID",                      // required, non-empty
 *   "client_secret": "Clover app secret",              // required, non-empty
 *   "webhook_auth_code": "the X-Clover-Auth code",     // compared in constant time by webhooks
 *   "environment": "sandbox" | "production",           // must match the stage
 *   "hosts": null | { "api", "oauth_authorize", "token", "scl", "sdk_url" },   // optional override
 *   "post_install_redirect": null | "https://…"        // optional: 302 after onboarding
 * }
 * ```
 *
 * Per-merchant OAuth token pairs are not created by CloudFormation: oauth-callback creates one
 * secret per merchant at run time under `clover-payments/<stage>/merchants/<merchantId>`, encrypted
 * with the data key. IAM policies are scoped to that prefix's ARN pattern (`…:secret:<prefix>*`;
 * Secrets Manager appends a random 6-character suffix to every ARN, so an exact ARN is impossible).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StageConfig } from './config';

export class Secrets extends Construct {
  readonly appSecret: Secret;
  /** Name prefix of the per-merchant secrets, ending in `/` (MERCHANT_SECRET_PREFIX). */
  readonly merchantSecretPrefix: string;
  /** IAM resource pattern matching every per-merchant secret and nothing else. */
  readonly merchantSecretArnPattern: string;
  readonly key: IKey;

  constructor(scope: Construct, id: string, props: { stage: StageConfig; key: IKey }) {
    super(scope, id);
    const { stage, key } = props;
    this.key = key;
    const base = `clover-payments/${stage.name}`;

    this.appSecret = new Secret(this, 'App', {
      secretName: `${base}/app`,
      description: `Clover app credentials for ${stage.name} (JSON: client_id, client_secret, webhook_auth_code, environment, hosts?, post_install_redirect?)`,
      encryptionKey: key,
      removalPolicy: stage.removalPolicy,
      // Placeholders until an operator puts the real values: client_id "" fails the functions'
      // schema, so nothing talks to Clover with a half-configured app. client_secret is random
      // only because CloudFormation must generate some field; it is overwritten at set-up.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({
          client_id: '',
          webhook_auth_code: '',
          environment: stage.cloverEnvironment,
          hosts: null,
          post_install_redirect: null,
        }),
        generateStringKey: 'client_secret',
        excludePunctuation: true,
        passwordLength: 32,
      },
    });

    this.merchantSecretPrefix = `${base}/merchants/`;
    this.merchantSecretArnPattern = Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.merchantSecretPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }
}
