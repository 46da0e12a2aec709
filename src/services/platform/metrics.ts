import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'recording_manager_';
/** From a cache hit to a slow S3 listing or a LiveKit start (seconds). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The service's Prometheus metrics, one registry per service instance (tests run several in one
 * process). Names carry the `recording_manager_` prefix; the process's own metrics come too.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'HTTP requests by method, route pattern and status, with their duration',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly webhooks = new Counter({
    name: `${PREFIX}livekit_webhooks_total`,
    help: 'LiveKit webhooks by event and outcome (applied, unchanged, ignored, failed, rejected)',
    labelNames: ['event', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly finished = new Counter({
    name: `${PREFIX}finished_total`,
    help: 'Recordings and streams that reached a final status, by kind and status',
    labelNames: ['kind', 'status'] as const,
    registers: [this.registry],
  });

  readonly repairs = new Counter({
    name: `${PREFIX}reconciler_repairs_total`,
    help: 'What reconcile passes repaired, by kind of repair (see ReconcileReport)',
    labelNames: ['repair'] as const,
    registers: [this.registry],
  });

  readonly upstream = new Histogram({
    name: `${PREFIX}upstream_request_duration_seconds`,
    help: 'Calls to S3 and LiveKit by operation and outcome (ok or error), with their duration',
    labelNames: ['service', 'operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly notifications = new Counter({
    name: `${PREFIX}notification_deliveries_total`,
    help: 'Notification delivery attempts by outcome (delivered, retried, given_up)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly mediaStreams = new Gauge({
    name: `${PREFIX}media_streams_open`,
    help: 'Media responses (recordings and downloads) streaming now',
    registers: [this.registry],
  });

  readonly mediaStreamsRefused = new Counter({
    name: `${PREFIX}media_streams_refused_total`,
    help: 'Media requests answered 429, by the cap they met (client or total)',
    labelNames: ['cap'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
  }

  /**
   * A gauge read when Prometheus scrapes, e.g. the running recordings and streams (from S3). When
   * the read fails the last values stay, so one S3 hiccup does not fail the whole scrape.
   */
  gaugeOnScrape(name: string, help: string, labelName: string, read: () => Promise<Record<string, number>>): void {
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: [labelName],
      registers: [this.registry],
      async collect() {
        const values = await read().catch(() => ({}));
        for (const [label, value] of Object.entries(values)) this.set({ [labelName]: label }, value);
      },
    });
  }

  /** Times an upstream call and counts its outcome. */
  async timeUpstream<T>(service: 's3' | 'livekit', operation: string, call: () => Promise<T>): Promise<T> {
    const end = this.upstream.startTimer({ service, operation });
    try {
      const result = await call();
      end({ outcome: 'ok' });
      return result;
    } catch (error) {
      end({ outcome: 'error' });
      throw error;
    }
  }

  /**
   * The same client with every method call timed (LiveKit's SDK clients have no middleware): the
   * operation is the method's name.
   */
  instrument<T extends object>(service: 's3' | 'livekit', client: T): T {
    return new Proxy(client, {
      get: (target, property, receiver) => {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        const method = value as (...args: unknown[]) => Promise<unknown>;
        return (...args: unknown[]) => this.timeUpstream(service, property, () => method.apply(target, args));
      },
    });
  }
}
