/**
 * The WAFv2 web ACL in front of the API stage. Rules, in evaluation order:
 *
 * 1. BodyOver16KiB — a body larger than 16 KiB is blocked with our 400 `body_too_large` error
 *    (API.md §1.2; the functions refuse the same bodies, shared/http/request.ts). WAF inspects the
 *    first 16 KiB of a regional body, and oversize bodies count as a match.
 * 2. RatePerIp — more than `ipRateLimitPer5Min` requests from one address in 5 minutes: 429.
 *    RatePerKey — more than `merchantRateLimit` × 60 requests with one Authorization header in a minute: 429.
 * 3. AWS managed Common rule set (its own 8 KB body rule only counts: rule 1 sets our limit).
 * 4. AWS managed Known bad inputs rule set.
 *
 * Logs go to a KMS-encrypted CloudWatch log group (WAF requires the `aws-waf-logs-` prefix), with
 * the Authorization header (API keys), X-Clover-Auth (the webhook code) and the query string
 * (OAuth codes) redacted. Sampled requests are off: the console would show their headers.
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnLoggingConfiguration, CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { MAX_BODY_BYTES } from '../shared/http/request';
import { SECURITY_HEADERS } from '../shared/http/response';
import type { StageConfig } from './config';

export const WAF_RESPONSE_BODIES = {
  body_too_large: {
    error: {
      type: 'invalid_request_error',
      code: 'body_too_large',
      message: 'The request body is larger than 16 KiB.',
    },
  },
  rate_limited_ip: {
    error: {
      type: 'rate_limit_error',
      code: 'rate_limited',
      message: 'Too many requests from this address; retry in a minute.',
    },
  },
  rate_limited_key: {
    error: {
      type: 'rate_limit_error',
      code: 'rate_limited',
      message: 'Too many requests with this API key; retry in a few seconds.',
    },
  },
} as const;

/**
 * A rate-based rule's limit as WAF takes it (AWS::WAFv2::WebACL `RateLimit`): a whole number of
 * requests per evaluation window, from 10 to 2,000,000,000. Anything else would synthesise and
 * then fail the deploy.
 */
export function wafRateLimit(requests: number, what: string): number {
  const limit = Math.round(requests);
  if (!(limit >= 10 && limit <= 2_000_000_000)) {
    throw new Error(`${what}: a WAF rate limit is 10 to 2,000,000,000 requests per window, got ${requests}`);
  }
  return limit;
}

/** WAF's answers carry the headers every answer of the API carries (shared/http/response.ts). */
const securityHeaders = Object.entries(SECURITY_HEADERS).map(([name, value]) => ({ name, value }));

export class Waf extends Construct {
  readonly webAcl: CfnWebACL;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: { stage: StageConfig; stageArn: string; logKey: IKey }) {
    super(scope, id);
    const { stage } = props;
    const metric = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${stage.prefix}-${name}`,
      sampledRequestsEnabled: false,
    });

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      name: stage.prefix,
      description: `Clover payments API, stage ${stage.name}`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: metric('web-acl'),
      customResponseBodies: Object.fromEntries(
        Object.entries(WAF_RESPONSE_BODIES).map(([key, body]) => [
          key,
          { contentType: 'APPLICATION_JSON', content: JSON.stringify(body) },
        ]),
      ),
      rules: [
        {
          name: 'BodyOver16KiB',
          priority: 0,
          statement: {
            sizeConstraintStatement: {
              fieldToMatch: { body: { oversizeHandling: 'MATCH' } },
              comparisonOperator: 'GT',
              size: MAX_BODY_BYTES,
              textTransformations: [{ priority: 0, type: 'NONE' }],
            },
          },
          action: {
            block: {
              customResponse: {
                responseCode: 400,
                customResponseBodyKey: 'body_too_large',
                responseHeaders: securityHeaders,
              },
            },
          },
          visibilityConfig: metric('body-size'),
        },
        {
          name: 'RatePerIp',
          priority: 1,
          statement: {
            rateBasedStatement: {
              limit: wafRateLimit(stage.ipRateLimitPer5Min, 'ipRateLimitPer5Min'),
              aggregateKeyType: 'IP',
              evaluationWindowSec: 300,
            },
          },
          action: {
            block: {
              customResponse: {
                responseCode: 429,
                customResponseBodyKey: 'rate_limited_ip',
                responseHeaders: [{ name: 'Retry-After', value: '60' }, ...securityHeaders],
              },
            },
          },
          visibilityConfig: metric('rate-per-ip'),
        },
        ...(stage.merchantRateLimit > 0
          ? [
              {
                name: 'RatePerKey',
                priority: 2,
                statement: {
                  rateBasedStatement: {
                    // WAF counts per window; 60 s is its shortest, so the per-second limit is averaged over it.
                    limit: wafRateLimit(stage.merchantRateLimit * 60, 'merchantRateLimit × 60'),
                    evaluationWindowSec: 60,
                    aggregateKeyType: 'CUSTOM_KEYS',
                    customKeys: [
                      { header: { name: 'authorization', textTransformations: [{ priority: 0, type: 'NONE' }] } },
                    ],
                    // Only keyed requests count: requests without the header are unaffected.
                    scopeDownStatement: {
                      sizeConstraintStatement: {
                        // `singleHeader` is typed `any`, so CDK passes its keys through as written:
                        // CloudFormation's key is `Name` (as in `redactedFields` below).
                        fieldToMatch: { singleHeader: { Name: 'authorization' } },
                        comparisonOperator: 'GT',
                        size: 0,
                        textTransformations: [{ priority: 0, type: 'NONE' }],
                      },
                    },
                  },
                },
                action: {
                  block: {
                    customResponse: {
                      responseCode: 429,
                      customResponseBodyKey: 'rate_limited_key',
                      responseHeaders: [{ name: 'Retry-After', value: '10' }, ...securityHeaders],
                    },
                  },
                },
                visibilityConfig: metric('rate-per-key'),
              },
            ]
          : []),
        {
          name: 'AWSManagedRulesCommonRuleSet',
          priority: 10,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: {
              vendorName: 'AWS',
              name: 'AWSManagedRulesCommonRuleSet',
              // Its 8 KB body limit would refuse bodies our contract accepts; BodyOver16KiB decides.
              ruleActionOverrides: [{ name: 'SizeRestrictions_BODY', actionToUse: { count: {} } }],
            },
          },
          visibilityConfig: metric('common'),
        },
        {
          name: 'AWSManagedRulesKnownBadInputsRuleSet',
          priority: 20,
          overrideAction: { none: {} },
          statement: {
            managedRuleGroupStatement: { vendorName: 'AWS', name: 'AWSManagedRulesKnownBadInputsRuleSet' },
          },
          visibilityConfig: metric('known-bad-inputs'),
        },
      ],
    });

    new CfnWebACLAssociation(this, 'Association', {
      resourceArn: props.stageArn,
      webAclArn: this.webAcl.attrArn,
    });

    this.logGroup = new LogGroup(this, 'Logs', {
      logGroupName: `aws-waf-logs-${stage.prefix}`,
      retention: stage.logRetention,
      encryptionKey: props.logKey,
      removalPolicy: stage.removalPolicy,
    });
    // WAF wants the log group ARN without the trailing `:*` that Fn::GetAtt returns.
    const logGroupArn = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: this.logGroup.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // The ARN refers to the group's name (a Ref), so CloudFormation creates the group first.
    new CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.webAcl.attrArn,
      logDestinationConfigs: [logGroupArn],
      redactedFields: [
        { singleHeader: { Name: 'authorization' } },
        { singleHeader: { Name: 'x-clover-auth' } },
        { queryString: {} },
      ],
    });
  }
}
