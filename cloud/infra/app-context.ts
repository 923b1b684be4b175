import { z } from 'zod';
import { TIERS } from '../../shared/common/job.ts';
import type { TiercastStackProps } from './tiercast-stack.ts';

/**
 * Settings of the CDK app come from the `tiercast` context object (cdk.json, or `-c tiercast='{"alarmEmail":"ops@example.com"}'`),
 * validated so a typo fails synth with the field's name instead of deploying a default.
 */
const ContextSchema = z.strictObject({
  stackName: z.string().min(1).default('Tiercast'),
  keyPrefix: z.string().regex(/^([A-Za-z0-9._-]+\/)*$/, 'a key prefix ending in "/" (or empty)').optional(),
  inputExpirationDays: z.number().int().min(1).optional(),
  outputsInfrequentAccessDays: z.number().int().min(30).optional(),
  outputsArchiveDays: z.number().int().min(31).optional(),
  outputsArchiveClass: z.enum(['GLACIER', 'DEEP_ARCHIVE', 'GLACIER_INSTANT_RETRIEVAL']).optional(),
  lambdaEphemeralMb: z.number().int().min(512).max(10_240).optional(),
  lambdaArchitecture: z.enum(['x86_64', 'arm64']).optional(),
  lambdaConcurrency: z.strictObject({ standard: z.number().int().min(1).optional(), enhanced: z.number().int().min(1).optional() }).optional(),
  noncurrentVersionDays: z.number().int().min(1).optional(),
  fargateEphemeralGb: z.number().int().min(21).max(200).optional(),
  agentInstanceType: z.string().min(1).optional(),
  agentMinInstances: z.number().int().min(0).optional(),
  agentMaxInstances: z.number().int().min(0).optional(),
  backlogPerInstance: z.number().positive().optional(),
  agentReleaseManifest: z.string().min(1).optional(),
  agentConfigParameter: z.string().regex(/^\/?[A-Za-z0-9_.\-/]+$/, 'an SSM parameter name').optional(),
  alarmEmail: z.email().optional(),
  webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  alarmsToWebhook: z.boolean().optional(),
  latencyP95AlarmSec: z.partialRecord(z.enum(TIERS), z.number().positive()).optional(),
  failureRateAlarm: z.number().gt(0).max(1).optional(),
  sweepMarginSec: z.number().int().min(0).optional(),
  sweepLimit: z.number().int().min(1).max(5_000).optional(),
  // EventBridge rate expressions take whole minutes.
  sweepEveryMinutes: z.number().int().min(1).max(1_440).optional(),
  images: z
    .discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('asset') }),
      z.strictObject({ kind: z.literal('ecr'), repositoryName: z.string().min(1), lambdaTag: z.string().min(1), fargateTag: z.string().min(1) }),
    ])
    .optional(),
});

export function stackPropsFromContext(raw: unknown): { stackName: string; props: TiercastStackProps } {
  const parsed = ContextSchema.safeParse(typeof raw === 'string' ? JSON.parse(raw) : (raw ?? {}));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`CONFIG_INVALID: cdk context "tiercast.${issue.path.join('.')}": ${issue.message}`);
  }
  const { stackName, ...props } = parsed.data;
  return { stackName, props: props as TiercastStackProps };
}
