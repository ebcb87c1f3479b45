import { txtRecordName } from '@reservations/operator/ownership';
import { RECORD_TYPE } from '@reservations/operator/record-set';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * The IAM statements of the roles the clusters' pods assume: exactly what their code calls, on
 * exactly those resources. The record names come from the operator's own naming code, so the
 * condition can never drift from what it writes.
 */

/** The names the operator writes in the zone: the weighted record and its ownership TXT, lower case. */
export function operatorRecordNames(recordFqdn: string): string[] {
  return [recordFqdn.toLowerCase(), txtRecordName(recordFqdn, RECORD_TYPE)];
}

/** The record types the operator writes: its weighted record's and the ownership TXT. */
export const OPERATOR_RECORD_TYPES = [RECORD_TYPE, 'TXT'];

export function operatorRoute53Statements(zoneArn: string, recordFqdn: string): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'OwnWeightedRecordOnly',
      actions: ['route53:ChangeResourceRecordSets'],
      resources: [zoneArn],
      conditions: {
        'ForAllValues:StringEquals': {
          'route53:ChangeResourceRecordSetsNormalizedRecordNames': operatorRecordNames(recordFqdn),
          'route53:ChangeResourceRecordSetsRecordTypes': OPERATOR_RECORD_TYPES,
        },
      },
    }),
    new iam.PolicyStatement({ sid: 'ReadZone', actions: ['route53:ListResourceRecordSets'], resources: [zoneArn] }),
    // A change id is known only once Route53 returns it, so GetChange cannot name one in advance.
    new iam.PolicyStatement({ sid: 'WaitForChange', actions: ['route53:GetChange'], resources: ['arn:aws:route53:::change/*'] }),
  ];
}

export interface QueueArns {
  queue: string;
  deadLetterQueue: string;
}

/**
 * The SQS statements of each service's role (each service runs as its own ServiceAccount):
 * reservation-api's outbox relay sends; the notifier receives, deletes, hands back (visibility)
 * and reads the redrive policy and the depth of both queues for its metrics. query-api calls
 * nothing, so it has no role.
 */
export function relaySqsStatements(arns: QueueArns): iam.PolicyStatement[] {
  return [new iam.PolicyStatement({ sid: 'RelaySends', actions: ['sqs:SendMessage'], resources: [arns.queue] })];
}

export function notifierSqsStatements(arns: QueueArns): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'NotifierConsumes',
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
      resources: [arns.queue],
    }),
    new iam.PolicyStatement({
      sid: 'NotifierReadsDepth',
      actions: ['sqs:GetQueueAttributes'],
      resources: [arns.queue, arns.deadLetterQueue],
    }),
  ];
}

/**
 * The KMS use of a customer-key-encrypted queue: sending takes a data key (GenerateDataKey, and
 * Decrypt to reuse a cached one), receiving only Decrypt.
 */
export function queueKeyStatement(keyArn: string, use: 'send' | 'receive'): iam.PolicyStatement {
  const actions = use === 'send' ? ['kms:GenerateDataKey', 'kms:Decrypt'] : ['kms:Decrypt'];
  return new iam.PolicyStatement({ sid: 'QueueKey', actions, resources: [keyArn] });
}
