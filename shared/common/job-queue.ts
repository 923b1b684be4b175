import type { AbortSignalLike } from './abort.ts';

/** A queue of job messages. Implemented by SQS (cloud/) and by a local folder queue (shared/node/). */

export interface QueueMessage {
  /** Stable id of the message (SQS MessageId). */
  readonly id: string;
  /** Handle of this receipt; changes every time the message is received. */
  readonly receiptHandle: string;
  readonly body: string;
  /** How many times the message has been received, this time included. */
  readonly receiveCount: number;
  /** Which queue it came from (for a priority set: 'high' or 'normal'). */
  readonly queue: string;
}

export interface ReceiveOptions {
  readonly maxMessages: number;
  /** Long-poll wait, 0..20 s. */
  readonly waitSeconds: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly signal?: AbortSignalLike;
}

export interface JobQueue {
  send(body: string, options?: { readonly priority?: number; readonly delaySeconds?: number }): Promise<{ messageId: string }>;
  receive(options: ReceiveOptions): Promise<QueueMessage[]>;
  /** Extend or shorten the invisibility of a received message (0 makes it visible now). */
  changeVisibility(message: QueueMessage, timeoutSeconds: number): Promise<void>;
  delete(message: QueueMessage): Promise<void>;
  /** Approximate counts, for dashboards and scaling. */
  depth(): Promise<{ visible: number; inFlight: number }>;
}
