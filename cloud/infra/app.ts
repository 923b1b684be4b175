import { App } from 'aws-cdk-lib';
import { stackPropsFromContext } from './app-context.ts';
import { TiercastStack } from './tiercast-stack.ts';

/**
 * The CDK app: `npm run cdk -- synth` (offline: no lookups, the images are only staged) and `npm run cdk -- deploy`.
 * Settings: the `tiercast` context object (cdk.json, or -c tiercast='{"alarmEmail":"ops@example.com"}'), see app-context.ts.
 */
const app = new App();
const { stackName, props } = stackPropsFromContext(app.node.tryGetContext('tiercast'));
new TiercastStack(app, stackName, {
  ...props,
  // Environment-agnostic unless the CLI found an account: synth needs no credentials and no network.
  ...(process.env.CDK_DEFAULT_ACCOUNT && process.env.CDK_DEFAULT_REGION
    ? { env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION } }
    : {}),
  description: 'Tiercast: ABR transcoding on Lambda, Fargate and EC2 agents (bucket, queues, workers, dashboard, alarms)',
});
app.synth();
