/**
 * The one stack: keys, data, secrets, functions, API (+ WAF), schedules, monitoring.
 * Environment-agnostic (no account/region lookups), so it synthesises offline with no credentials.
 */
import { CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Construct } from 'constructs';
import { Api } from './api';
import type { StageConfig } from './config';
import { Data } from './data';
import { Events } from './events';
import { Functions } from './functions';
import { Keys } from './keys';
import { Monitoring } from './monitoring';
import { acknowledge } from './nag';
import { Operators } from './operators';
import { Schedules } from './schedules';
import { Secrets } from './secrets';
import { Waf } from './waf';

export interface PaymentsStackProps extends StackProps {
  readonly stage: StageConfig;
}

export class PaymentsStack extends Stack {
  readonly keys: Keys;
  readonly data: Data;
  readonly secrets: Secrets;
  readonly functions: Functions;
  readonly api: Api;
  readonly waf: Waf;
  readonly monitoring: Monitoring;
  readonly events: Events;

  constructor(scope: Construct, id: string, props: PaymentsStackProps) {
    super(scope, id, props);
    const { stage } = props;

    const alarmEmail = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      description: 'E-mail address that receives the alarm notifications (confirm the subscription e-mail).',
      allowedPattern: '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
      constraintDescription: 'must be an e-mail address',
    });

    this.keys = new Keys(this, 'Keys', { stage });
    this.data = new Data(this, 'Data', { stage, key: this.keys.data });
    this.secrets = new Secrets(this, 'Secrets', { stage, key: this.keys.data });
    this.functions = new Functions(this, 'Functions', {
      stage,
      data: this.data,
      secrets: this.secrets,
      logKey: this.keys.ops,
    });
    this.events = new Events(this, 'Events', {
      stage,
      data: this.data,
      functions: this.functions,
      key: this.keys.data,
    });
    this.api = new Api(this, 'Api', { stage, functions: this.functions, logKey: this.keys.ops });
    const operators = new Operators(this, 'Operators', {
      stage,
      data: this.data,
      api: this.api.restApi,
      stageName: this.api.stageName,
    });
    this.waf = new Waf(this, 'Waf', { stage, stageArn: this.api.stageArn, logKey: this.keys.ops });
    new Schedules(this, 'Schedules', {
      stage,
      functions: {
        'token-refresher': this.functions.get('token-refresher'),
        reconciler: this.functions.get('reconciler'),
        'event-deliverer': this.functions.get('event-deliverer'),
      },
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      stage,
      api: this.api,
      functions: this.functions,
      key: this.keys.ops,
      alarmEmail: alarmEmail.valueAsString,
      webAclName: stage.prefix,
    });

    this.events.addAlarms(new SnsAction(this.monitoring.topic), this.functions);

    this.acknowledgeStackWide();

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Base URL of the API (stage included)' });
    new CfnOutput(this, 'OAuthRedirectUrl', {
      value: this.api.urlFor('/v1/oauth/callback'),
      description: "The Clover app's Site URL / redirect URL",
    });
    new CfnOutput(this, 'OAuthLaunchUrl', {
      value: this.api.urlFor('/v1/oauth/launch'),
      description: "The Clover app's Alternate Launch Path (OAuth v2): Clover opens it with ?merchant_id=…",
    });
    if (this.api.domainTarget) {
      new CfnOutput(this, 'CustomDomainTarget', {
        value: this.api.domainTarget,
        description: `Point ${stage.customDomain?.domainName} here (CNAME or alias record)`,
      });
    }
    new CfnOutput(this, 'WebhookUrl', {
      value: this.api.urlFor('/v1/webhooks/clover'),
      description: "The Clover app's webhook URL",
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.events.bus.eventBusName,
      description: 'EventBridge bus every payment event is put on (source clover-payments); subscribe with a rule',
    });
    // `npm run keys -- --stage <stage>` finds the stage's authorizer cache from these two.
    new CfnOutput(this, 'RestApiId', {
      value: this.api.restApi.restApiId,
      description: 'REST API id (npm run keys flushes its authorizer cache after a revoke)',
    });
    new CfnOutput(this, 'StageName', { value: this.api.stageName, description: 'API Gateway stage name' });
    new CfnOutput(this, 'OperatorPolicyArn', {
      value: operators.policy.managedPolicyArn,
      description: 'Attach to the role or group your operators use for npm run keys (docs/operations.md)',
    });
    new CfnOutput(this, 'AppSecretName', {
      value: `clover-payments/${stage.name}/app`,
      description: 'Secrets Manager secret to fill with the Clover app credentials (docs/deploy.md)',
    });
  }

  /** Findings that hold for every function of the stack, acknowledged once with their reasons. */
  private acknowledgeStackWide(): void {
    for (const fn of this.functions.all()) {
      acknowledge(
        fn,
        'PCI.DSS.321-LambdaInsideVPC',
        'The functions reach only AWS public service endpoints (DynamoDB, Secrets Manager, KMS, API Gateway) over TLS with SigV4, and Clover over the internet. In a VPC they would need a NAT gateway (≈$33/month per AZ plus data) and interface endpoints to do the same, and gain ENI cold-start cost, with no private resource to protect. Network controls here are IAM least privilege per function and WAF at the edge.',
      );
      acknowledge(
        fn,
        'Serverless-LambdaDLQ',
        'API functions are invoked synchronously by API Gateway, which returns the error to the caller (a payment retry uses the same Idempotency-Key); the scheduled sweeps retry on their next tick; the stream consumers (event-publisher, event-deliverer) are polled by event source mappings, whose failed batches go to their own on-failure queue. No invocation is asynchronous-and-unrepeatable, so a dead-letter queue would stay empty or hold only "Scheduled Event" payloads.',
      );
      acknowledge(
        fn,
        'Serverless-LambdaTracing',
        'X-Ray is off by design (infra/house-function.ts): no Tracer is bundled, so traces would add only what REPORT lines and access logs already show, at $5 per million traces, and would be one more sink a payment response could leak into.',
      );
    }
    acknowledge(
      this.secrets.appSecret,
      'AwsSolutions-SMG4',
      'The app secret holds the Clover app ID/secret and the webhook auth code, which are issued in the Clover developer dashboard; no Lambda can rotate them. Rotation is a documented manual procedure (docs/deploy.md, "Rotating keys"). Per-merchant OAuth tokens rotate continuously through token-refresher.',
    );
    // Per-merchant OAuth secrets are created at run time; their ARNs end in a random suffix.
    for (const fn of this.functions.all()) {
      acknowledge(
        fn,
        `AwsSolutions-IAM5[Resource::${merchantSecretPatternForNag(this.secrets.merchantSecretPrefix)}]`,
        'Per-merchant OAuth secrets are created at run time, one per merchant, and Secrets Manager appends a random 6-character suffix to every secret ARN; the narrowest possible resource is the merchants/ name prefix of this stage.',
      );
    }
  }
}

/** How cdk-nag prints the merchant secret ARN pattern (tokens flattened to <AWS::…>). */
function merchantSecretPatternForNag(prefix: string): string {
  return `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${prefix}*`;
}
