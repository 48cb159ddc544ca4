/**
 * Classifying @platformatic/kafka errors: which ones a retry can fix, which need a fresh idempotent
 * producer, and which are final. Errors nest (`MultipleErrors.errors`, `cause`), so every check walks
 * the whole tree.
 */

/** Kafka protocol error names (`apiId`) found anywhere in an error tree. */
export function kafkaErrorIds(error: unknown): Set<string> {
  const out = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number): void => {
    if (e === null || typeof e !== 'object' || seen.has(e) || depth > 8) return;
    seen.add(e);
    const o = e as { apiId?: unknown; code?: unknown; errors?: unknown; cause?: unknown };
    if (typeof o.apiId === 'string') out.add(o.apiId);
    if (typeof o.code === 'string' && o.code.startsWith('PLT_KFK_')) out.add(o.code);
    if (Array.isArray(o.errors)) for (const c of o.errors) walk(c, depth + 1);
    if (o.cause) walk(o.cause, depth + 1);
  };
  walk(error, 0);
  return out;
}

/** The idempotent producer's state is out of step with the broker's: start a new producer id. */
const PRODUCER_RESET = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'DUPLICATE_SEQUENCE_NUMBER',
]);

/** Retrying the same records cannot help. */
const FINAL = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'PLT_KFK_USER',
  'PLT_KFK_AUTHENTICATION',
  'PLT_KFK_UNSUPPORTED_COMPRESSION',
]);

export type SendFailure = 'retry' | 'reset-producer' | 'final';

export function classifySendError(error: unknown): SendFailure {
  const ids = kafkaErrorIds(error);
  for (const id of ids) if (FINAL.has(id)) return 'final';
  for (const id of ids) if (PRODUCER_RESET.has(id)) return 'reset-producer';
  return 'retry';
}

export function hasKafkaError(error: unknown, ...ids: string[]): boolean {
  const found = kafkaErrorIds(error);
  return ids.some((id) => found.has(id));
}

export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const ids = [...kafkaErrorIds(error)].filter((id) => !id.startsWith('PLT_KFK_'));
  return ids.length > 0 ? `${error.message} (${ids.join(', ')})` : error.message;
}
