/**
 * IAM at the local endpoints: who signed the request (SigV4, against the keys of
 * $DATA_DIR/aws-credentials), what the request needs (the action mappers of local/iam/), and
 * whether that principal's policies — taken from the synthesized template — allow it. A refusal is
 * answered exactly as AWS answers it and logged in one line naming the function, the action and
 * the resource.
 *
 * Which principal is which: each function's role session, `ops` (the template's operator policy)
 * and `admin` (everything: the account that deploys, for set-up and the tests' inspections).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { tableDefinition } from '../shared/table';
import type { LocalCredential } from './credentials';
import { dynamoDbAuthorizations, keySchemaOf } from './iam/dynamodb-actions';
import { authFailureResponse, denialResponse, errorResponse, UnknownOperationError } from './iam/errors';
import { type AuthorizationRequest, firstDenial, type PolicyDocument, principalContext } from './iam/policy';
import { secretsManagerAuthorizations } from './iam/secretsmanager-actions';
import { verifySigV4 } from './iam/sigv4';
import { localResolveContext } from './iam/template';

export interface SignedRequest {
  readonly service: 'dynamodb' | 'secretsmanager' | 'apigateway' | 'events';
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** An answer that refuses a request, ready to write. */
export interface Denial {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface Principal {
  readonly profile: string;
  /** The caller as AWS names it in a denial. */
  readonly arn: string;
  readonly credential: LocalCredential;
  readonly policies: readonly PolicyDocument[];
}

export interface IamEnforcerOptions {
  principals: readonly Principal[];
  /** A KmsKeyId as a caller gives it (key id, ARN, alias) → the key's ARN, from the template. */
  kmsKeyArn: (keyId: string) => string | undefined;
  log?: (line: string) => void;
  region?: string;
  accountId?: string;
}

type SecretLookup = (secretId: string, region: string) => { arn: string; kmsKeyId?: string } | undefined;

export class IamEnforcer {
  private byKey = new Map<string, Principal>();
  private readonly log: (line: string) => void;
  private readonly ctx = localResolveContext();
  /** Denials so far, by `<profile> <action>` (tests and the log summary). */
  readonly denials: { profile: string; action: string; resource: string }[] = [];

  private readonly kmsKeyArn: (keyId: string) => string | undefined;

  constructor(opts: IamEnforcerOptions) {
    this.log = opts.log ?? (() => {});
    this.kmsKeyArn = opts.kmsKeyArn;
    this.replacePrincipals(opts.principals);
  }

  /** New policies after a rebuild (watch mode). */
  replacePrincipals(principals: readonly Principal[]): void {
    this.byKey = new Map(principals.map((p) => [p.credential.accessKeyId, p]));
  }

  authorizeDynamoDb(req: SignedRequest): Denial | null {
    const who = this.authenticate(req, 'dynamodb');
    if ('denial' in who) return who.denial;
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8') || '{}');
    } catch {
      return null; // DynamoDB Local answers the SerializationException itself
    }
    let checks: AuthorizationRequest[];
    try {
      checks = dynamoDbAuthorizations(header(req.headers, 'x-amz-target'), body, {
        region: who.region,
        accountId: this.ctx.accountId,
        keySchema: () => keySchemaOf(tableDefinition),
      });
    } catch (e) {
      if (e instanceof UnknownOperationError) return null; // DynamoDB Local refuses it as AWS does
      throw e;
    }
    return this.decide('dynamodb', who.principal, who.region, checks);
  }

  authorizeSecretsManager(req: SignedRequest, lookup: SecretLookup): Denial | null {
    const who = this.authenticate(req, 'secretsmanager');
    if ('denial' in who) return who.denial;
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8') || '{}');
    } catch {
      return null;
    }
    let checks: AuthorizationRequest[];
    try {
      checks = secretsManagerAuthorizations(header(req.headers, 'x-amz-target'), body, {
        region: who.region,
        accountId: this.ctx.accountId,
        findSecret: (id) => {
          const s = lookup(id, who.region);
          if (!s) return undefined;
          const name = s.arn.replace(/^.*:secret:/, '').replace(/-[A-Za-z0-9]{6}$/, '');
          return { arn: s.arn, name, kmsKeyArn: s.kmsKeyId ? this.keyArn(s.kmsKeyId) : undefined };
        },
        newSecretArn: (name) =>
          `arn:aws:secretsmanager:${who.region}:${this.ctx.accountId}:secret:${name}-${this.ctx.secretSuffix(name)}`,
        resolveKmsKey: (id) => this.keyArn(id),
      });
    } catch (e) {
      if (e instanceof UnknownOperationError) return null;
      throw e;
    }
    return this.decide('secretsmanager', who.principal, who.region, checks);
  }

  /** API Gateway's control plane: FlushStageAuthorizersCache is `apigateway:DELETE` on the cache's path. */
  authorizeApiGateway(req: SignedRequest): Denial | null {
    const who = this.authenticate(req, 'apigateway');
    if ('denial' in who) return who.denial;
    const path = new URL(req.url, 'http://local').pathname;
    const check: AuthorizationRequest = {
      action: `apigateway:${req.method.toUpperCase()}`,
      resource: `arn:aws:apigateway:${who.region}::${path}`,
      context: {},
    };
    return this.decide('apigateway', who.principal, who.region, [check]);
  }

  /** EventBridge PutEvents: `events:PutEvents` on every bus the entries name. */
  authorizeEvents(req: SignedRequest, busArns: readonly string[]): Denial | null {
    const who = this.authenticate(req, 'events');
    if ('denial' in who) return who.denial;
    return this.decide(
      'events',
      who.principal,
      who.region,
      busArns.map((resource) => ({ action: 'events:PutEvents', resource, context: {} })),
    );
  }

  /**
   * What the platform itself does with a function's role (Lambda's event source mapping reading
   * a stream): null when the role's policies allow it, else the denial's text.
   */
  checkAs(profile: string, action: string, resource: string, region = 'us-east-1'): string | null {
    const principal = [...this.byKey.values()].find((p) => p.profile === profile);
    if (!principal) return `no principal ${profile}`;
    const global = principalContext({ accountId: this.ctx.accountId, roleArn: principal.arn, region });
    const denied = firstDenial(principal.policies, [{ action, resource, context: global }]);
    if (!denied) return null;
    this.denials.push({ profile, action, resource });
    const text = `AccessDenied: ${profile} may not ${action} on ${resource} (${denied.decision.replace('_', ' ')})`;
    this.log(text);
    return text;
  }

  /** A key the template does not define stays as given: a condition then compares what the caller sent. */
  private keyArn(id: string): string {
    return this.kmsKeyArn(id) ?? id;
  }

  private authenticate(
    req: SignedRequest,
    service: SignedRequest['service'],
  ): { principal: Principal; region: string } | { denial: Denial } {
    const r = verifySigV4(
      { method: req.method, url: req.url, headers: req.headers, body: req.body },
      { lookup: (id) => this.byKey.get(id)?.credential, service },
    );
    if (!r.ok) {
      this.log(`refused ${service} request: ${r.code}`);
      return { denial: authFailureResponse(service === 'dynamodb' ? 'dynamodb' : 'secretsmanager', r) };
    }
    const principal = this.byKey.get(r.accessKeyId);
    if (!principal)
      return {
        denial: errorResponse(
          jsonService(service),
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
          'message',
        ),
      };
    return { principal, region: r.region };
  }

  private decide(
    service: SignedRequest['service'],
    principal: Principal,
    region: string,
    checks: readonly AuthorizationRequest[],
  ): Denial | null {
    const global = principalContext({ accountId: this.ctx.accountId, roleArn: principal.arn, region });
    const withGlobal = checks.map((c) => ({ ...c, context: { ...global, ...c.context } }));
    const denied = firstDenial(principal.policies, withGlobal);
    if (!denied) return null;
    const { action, resource } = denied.request;
    this.denials.push({ profile: principal.profile, action, resource });
    this.log(
      `AccessDenied: ${principal.profile} may not ${action} on ${resource} (${denied.decision.replace('_', ' ')})`,
    );
    if (service === 'apigateway' || service === 'events') {
      // API Gateway's control plane answers 403 with a REST-JSON body; EventBridge, AWS JSON 1.1.
      const body = JSON.stringify({
        message: `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource}`,
      });
      return {
        status: 403,
        headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': 'AccessDeniedException' },
        body,
      };
    }
    return denialResponse(service, principal.arn, denied);
  }
}

const jsonService = (s: SignedRequest['service']) => (s === 'dynamodb' ? 'dynamodb' : 'secretsmanager');

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
