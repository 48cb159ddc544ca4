/**
 * The contract every stream engine implements (embedded log, Kafka, NATS JetStream, Pub/Sub): durable
 * publish, consumer groups, and at-least-once consumption where a consumer acknowledges a batch only
 * after its own outputs are acknowledged. Stages depend on this interface, never on an engine.
 */

/** A record to publish. `key` chooses the partition where the engine has partitions. */
export interface OutRecord {
  key?: string;
  value: Uint8Array;
}

/** A consumed record; `position` is engine-specific and only meaningful to the engine. */
export interface InRecord {
  key?: string;
  value: Uint8Array;
  /** when the record was appended, ms since epoch (for end-to-end latency) */
  timestamp: number;
}

export interface Batch {
  readonly records: readonly InRecord[];
  /** Commit this batch's position for the group. Call only after the batch's outputs are durable. */
  ack(): Promise<void>;
}

export interface Subscription {
  /**
   * The next batch of at most `maxRecords`, waiting up to `maxWaitMs` for the first record; an empty
   * batch on timeout. Unacknowledged batches are redelivered after a restart (at least once).
   */
  next(maxRecords: number, maxWaitMs: number): Promise<Batch>;
  close(): Promise<void>;
}

export interface Stream {
  readonly name: string;
  /** Resolves once every record is durable in the engine (fsynced / acknowledged by the broker). */
  publish(records: readonly OutRecord[]): Promise<void>;
  subscribe(group: string): Subscription;
  /** records published but not yet acknowledged by `group` */
  lag(group: string): Promise<number>;
}

export interface StreamEngine {
  readonly kind: string;
  stream(name: string): Promise<Stream>;
  close(): Promise<void>;
}
