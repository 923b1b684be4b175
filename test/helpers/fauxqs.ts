import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

/**
 * An in-process SQS (fauxqs) on 127.0.0.1 and a random port. fauxqs's own startFauxqs listens on 0.0.0.0, so we
 * build its app and listen ourselves; queues are created through the SDK, which is also what the product does.
 */
export interface Fauxqs {
  readonly endpoint: string;
  readonly client: SQSClient;
  /** Environment for a child `tiercast agent` to reach this server (the SDK reads AWS_ENDPOINT_URL_SQS). */
  readonly env: Record<string, string>;
  createQueue(name: string, options?: { dlq?: string; maxReceiveCount?: number; visibilityTimeout?: number }): Promise<string>;
  stop(): Promise<void>;
}

export async function startFauxqs(): Promise<Fauxqs> {
  const app = buildApp({ logger: false });
  const endpoint = await app.listen({ port: 0, host: '127.0.0.1' });
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials });
  return {
    endpoint,
    client,
    env: {
      AWS_ENDPOINT_URL_SQS: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    async createQueue(name, options = {}) {
      const attributes: Record<string, string> = {};
      if (options.visibilityTimeout !== undefined) attributes.VisibilityTimeout = String(options.visibilityTimeout);
      if (options.dlq) {
        const arn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: options.dlq, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
        attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: String(options.maxReceiveCount ?? 3) });
      }
      const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      return out.QueueUrl!;
    },
    async stop() {
      client.destroy();
      await app.close();
    },
  };
}
