/**
 * Stream engines by name, built from configuration. Adding an engine is a folder beside `embedded/`
 * plus one line here; stages only ever see the `StreamEngine` interface.
 */
import { EmbeddedStreamEngine } from './embedded/engine.js';
import type { KafkaStreamsOptions } from './kafka/config.js';
import type { NatsStreamsOptions } from './nats/config.js';
import type { PubSubStreamsOptions } from './pubsub/config.js';
import type { StreamEngine } from './types.js';

// The client libraries of the other engines are loaded only when configured: together they took about
// half of every `furrow` command's start-up (Kafka's option validators compile at import, the Pub/Sub
// client loads its gRPC stack) and ~10 MB of heap that every full GC then marks.

export interface EngineContext {
  /** the role's data directory (the embedded engine keeps its logs there) */
  dataDir: string;
  durability: 'fsync' | 'os';
}

export interface EngineDefinition {
  readonly kind: string;
  /** `options` is the user's `streams.<kind>` block, validated by the engine (errors name the key) */
  create(options: unknown, ctx: EngineContext): Promise<StreamEngine>;
}

const definitions: EngineDefinition[] = [
  {
    kind: 'embedded',
    async create(_options, ctx) {
      return new EmbeddedStreamEngine({ dir: ctx.dataDir, durability: ctx.durability });
    },
  },
  {
    kind: 'kafka',
    async create(options) {
      const { KafkaStreamEngine } = await import('./kafka/engine.js');
      return new KafkaStreamEngine((options ?? {}) as KafkaStreamsOptions);
    },
  },
  {
    kind: 'nats',
    async create(options) {
      const { NatsStreamEngine } = await import('./nats/engine.js');
      return NatsStreamEngine.connect((options ?? {}) as NatsStreamsOptions);
    },
  },
  {
    kind: 'pubsub',
    async create(options) {
      const { PubSubStreamEngine } = await import('./pubsub/engine.js');
      return PubSubStreamEngine.connect((options ?? {}) as PubSubStreamsOptions);
    },
  },
];

export const STREAM_ENGINES: ReadonlyMap<string, EngineDefinition> = new Map(
  definitions.map((d) => [d.kind, d]),
);

export async function createStreamEngine(
  kind: string,
  options: unknown,
  ctx: EngineContext,
): Promise<StreamEngine> {
  const def = STREAM_ENGINES.get(kind);
  if (def === undefined) {
    throw new Error(
      `streams.engine: unknown engine "${kind}" (known: ${[...STREAM_ENGINES.keys()].join(', ')})`,
    );
  }
  return def.create(options, ctx);
}
