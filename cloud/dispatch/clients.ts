import { ECSClient } from '@aws-sdk/client-ecs';
import { LambdaClient } from '@aws-sdk/client-lambda';

/**
 * SDK clients for the dispatch adapters, built here because only cloud/ may import the SDK. Credentials come from the
 * SDK's default provider chain (a named profile when configured): Tiercast never holds them.
 */
export interface AwsClientOptions {
  readonly region?: string;
  readonly profile?: string;
  readonly endpoint?: string;
}

function common(options: AwsClientOptions) {
  return {
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
  };
}

export function createLambdaClient(options: AwsClientOptions = {}): LambdaClient {
  return new LambdaClient(common(options));
}

export function createEcsClient(options: AwsClientOptions = {}): ECSClient {
  return new ECSClient(common(options));
}
