import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { TiercastError } from '../../shared/common/errors.ts';
import { errorName, withBackoff, type BackoffOptions } from './retry.ts';
import { jobPointer, type DispatchRequest, type DispatchResult, type TierDispatcher } from '../../shared/common/tier-dispatch.ts';

/**
 * Lambda tier: one asynchronous invocation (InvocationType 'Event') per job, payload `{ schemaVersion, jobId }`.
 *
 * Why asynchronous: jobs run for up to the function's timeout (600 s for the enhanced function) and the handler
 * reports through the ledger, not through the response; a RequestResponse call would hold a connection open for
 * minutes and die with the dispatcher. Lambda's own async queue absorbs bursts. (The function's async retry count
 * belongs to the infrastructure; the handler's ledger status makes a retried event harmless.)
 *
 * Throttling (TooManyRequestsException, 429, and the EC2/ENI throttles) is retried with exponential backoff;
 * if it persists the job fails with THROTTLED. Anything else (function missing, access denied) is DISPATCH_FAILED
 * at once, with the SDK error kept as `cause`.
 */

export interface LambdaDispatcherOptions extends BackoffOptions {
  readonly client: LambdaClient;
  readonly functionName?: string;
  readonly enhancedFunctionName?: string;
}

const THROTTLES = /^(TooManyRequestsException|ThrottlingException|Throttling|EC2ThrottledException|ServiceException|ResourceNotReadyException|ResourceConflictException)$/;

export function isLambdaRetryable(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return THROTTLES.test(errorName(err)) || status === 429;
}

export function createLambdaDispatcher(options: LambdaDispatcherOptions): TierDispatcher {
  const { client } = options;
  const names = { lambda: options.functionName, 'lambda-enhanced': options.enhancedFunctionName } as const;
  return {
    tiers: (['lambda', 'lambda-enhanced'] as const).filter((t) => names[t]),
    async dispatch(request: DispatchRequest): Promise<DispatchResult> {
      if (request.tier !== 'lambda' && request.tier !== 'lambda-enhanced') {
        throw new TiercastError('DISPATCH_FAILED', `the Lambda dispatcher cannot run tier ${request.tier}`);
      }
      const functionName = names[request.tier];
      if (!functionName) {
        throw new TiercastError(
          'CONFIG_INVALID',
          `tier ${request.tier}: no function configured (${request.tier === 'lambda' ? 'LAMBDA_FUNCTION_NAME' : 'LAMBDA_FUNCTION_NAME_ENHANCED'})`,
        );
      }
      const command = new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'Event',
        Payload: new TextEncoder().encode(JSON.stringify(jobPointer(request.jobId))),
      });
      try {
        const { value, attempts } = await withBackoff(() => client.send(command), isLambdaRetryable, options);
        if (value.StatusCode !== undefined && value.StatusCode !== 202) {
          throw new TiercastError('DISPATCH_FAILED', `Lambda ${functionName} did not accept the event (status ${value.StatusCode})`, {
            details: { jobId: request.jobId, functionName, statusCode: value.StatusCode },
          });
        }
        return {
          tier: request.tier,
          ref: value.$metadata.requestId ?? `${functionName}:${request.jobId}`,
          ...(attempts > 1 ? { note: `accepted after ${attempts} attempts (throttled)` } : {}),
        };
      } catch (err) {
        if (err instanceof TiercastError) throw err;
        const name = errorName(err) || 'Error';
        const message = err instanceof Error ? err.message : String(err);
        const code = isLambdaRetryable(err) ? 'THROTTLED' : 'DISPATCH_FAILED';
        throw new TiercastError(code, `Lambda ${functionName}: ${name}: ${message}${code === 'THROTTLED' ? ' (still throttled after backing off)' : ''}`, {
          cause: err,
          details: { jobId: request.jobId, functionName, sdkError: name },
        });
      }
    },
  };
}
