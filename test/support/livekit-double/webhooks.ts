import { WebhookEvent } from '@livekit/protocol';
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import { signJwt } from './auth';
import { newId, nowSeconds } from './ids';
import type { Lifetime } from './lifetime';

/** One event on its way to one URL. */
export interface WebhookDelivery {
  event: WebhookEvent;
  /** The exact bytes sent (protobuf-es `toJson()`: camelCase, defaults omitted). */
  body: string;
  url: string;
  /** HTTP status of every attempt; 0 = connection error. */
  attempts: number[];
  /** True once an attempt got a 2xx answer. */
  delivered: boolean;
  /** Why it was never sent: a test knob, a full queue or an event that waited too long. */
  dropped?: 'knob' | 'queue full' | 'too old';
}

export interface WebhookRetry {
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface WebhookQueueLimits {
  maxDepth: number;
  maxAgeMs: number;
}

export interface WebhookSenderConfig {
  apiKey: string;
  apiSecret: string;
  urls: () => readonly string[];
  retry: WebhookRetry;
  queue: WebhookQueueLimits;
}

export interface SignOptions {
  apiKey?: string;
  apiSecret?: string;
  validForSeconds?: number;
}

type EventFilter = (event: WebhookEvent) => boolean;
interface Knob {
  filter: EventFilter;
  remaining: number;
}
interface Queued {
  delivery: WebhookDelivery;
  enqueuedAt: number;
}

/** go-retryablehttp's retry policy: connection errors, 429 and 5xx except 501. */
const isRetryable = (status: number) => status === 0 || status === 429 || (status >= 500 && status !== 501);
const isSuccess = (status: number) => status >= 200 && status < 300;

/** LiveKit's notifier groups events by the resource they are about (protocol `webhook/notifier.go` `EventKey`). */
function resourceKey(event: WebhookEvent): string {
  if (event.egressInfo) return `egress:${event.egressInfo.egressId}`;
  if (event.ingressInfo) return `ingress:${event.ingressInfo.ingressId}`;
  return `room:${event.room?.name ?? ''}`;
}

/**
 * LiveKit's `ResourceURLNotifier` (§5.4): per URL and resource one FIFO queue with one worker,
 * retries with exponential backoff, bounded depth and age; plus knobs for tests.
 */
export class WebhookSender {
  readonly deliveries: WebhookDelivery[] = [];
  private readonly queues = new Map<string, Queued[]>();
  private held: WebhookDelivery[] = [];
  private holding = false;
  private dropKnobs: Knob[] = [];
  private duplicateKnobs: Knob[] = [];
  private delayMs = 0;
  private pending = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly config: WebhookSenderConfig,
    private readonly lifetime: Lifetime,
    private readonly events: EventEmitter,
  ) {}

  /** A new event from the server: stamped with id and time, then queued for every URL. */
  enqueue(event: WebhookEvent): void {
    if (this.lifetime.closed) return;
    const stamped = stamp(event);
    const body = JSON.stringify(stamped.toJson());
    const dropped = takeKnob(this.dropKnobs, stamped);
    const copies = !dropped && takeKnob(this.duplicateKnobs, stamped) ? 2 : 1;
    for (const url of this.config.urls()) {
      for (let i = 0; i < copies; i++) {
        const delivery: WebhookDelivery = { event: stamped, body, url, attempts: [], delivered: false };
        this.deliveries.push(delivery);
        if (dropped) delivery.dropped = 'knob';
        else if (this.holding) this.held.push(delivery);
        else this.queue(delivery, `${url}\n${resourceKey(stamped)}`);
      }
    }
  }

  /** The `Authorization` value LiveKit sends: a raw HS256 JWT (no Bearer) whose `sha256` claim covers the body. */
  sign(body: string, options: SignOptions = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: options.apiKey ?? this.config.apiKey,
      iat: now,
      nbf: now,
      exp: now + (options.validForSeconds ?? 300),
      sha256: createHash('sha256').update(body).digest('base64'),
    };
    return signJwt(claims, options.apiSecret ?? this.config.apiSecret);
  }

  /** Signs and posts one event to every URL once, now; the first non-2xx status, else the first status. */
  async sendOnce(event: WebhookEvent): Promise<number> {
    const urls = this.config.urls();
    if (urls.length === 0) throw new Error('the LiveKit double has no webhookUrls to send to');
    // livekit-server-sdk's WebhookEvent subclass resets `event` after its constructor ran, so
    // `new WebhookEvent({ event: 'x' })` from the SDK silently has no name: LiveKit never sends that.
    if (!event.event) {
      throw new Error(
        "sendWebhook: the event has no name (construct it with @livekit/protocol's WebhookEvent, or set .event after construction)",
      );
    }
    const body = JSON.stringify(stamp(event).toJson());
    const statuses: number[] = [];
    for (const url of urls) statuses.push((await this.post(url, body)).status);
    return statuses.find((status) => !isSuccess(status)) ?? statuses[0];
  }

  drop(filter: EventFilter = () => true, times = Infinity): void {
    this.dropKnobs.push({ filter, remaining: times });
  }

  duplicate(filter: EventFilter = () => true, times = Infinity): void {
    this.duplicateKnobs.push({ filter, remaining: times });
  }

  delay(ms: number): void {
    this.delayMs = ms;
  }

  hold(): void {
    this.holding = true;
  }

  /** Stops holding and sends what was held, one at a time, each with its retries, in order or reversed. */
  async release(options: { reverse?: boolean } = {}): Promise<void> {
    this.holding = false;
    const batch = this.held.splice(0);
    if (options.reverse) batch.reverse();
    this.pending += batch.length;
    for (const delivery of batch) {
      await this.lifetime.track(this.deliver(delivery));
      this.finished();
    }
  }

  clearKnobs(): void {
    this.dropKnobs = [];
    this.duplicateKnobs = [];
    this.delayMs = 0;
    this.holding = false;
    // Held events go out as if they had never been held.
    for (const delivery of this.held.splice(0)) this.queue(delivery, `${delivery.url}\n${resourceKey(delivery.event)}`);
  }

  /** Resolves when nothing is queued or in flight (held events do not count). */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  get busy(): boolean {
    return this.pending > 0;
  }

  private queue(delivery: WebhookDelivery, key: string): void {
    const waiting = this.queues.get(key);
    if (waiting && waiting.length >= this.config.queue.maxDepth) {
      delivery.dropped = 'queue full';
      return;
    }
    this.pending += 1;
    const item = { delivery, enqueuedAt: Date.now() };
    if (waiting) {
      waiting.push(item);
      return;
    }
    const fresh = [item];
    this.queues.set(key, fresh);
    // work() does not throw; the catch only keeps a listener's mistake from becoming an unhandled rejection.
    this.lifetime.track(this.work(key, fresh)).catch(() => undefined);
  }

  /** The one worker of a queue: sends in order, each delivery (with its retries) before the next. */
  private async work(key: string, waiting: Queued[]): Promise<void> {
    for (let item = waiting.shift(); item; item = waiting.shift()) {
      if (Date.now() - item.enqueuedAt > this.config.queue.maxAgeMs) item.delivery.dropped = 'too old';
      else await this.deliver(item.delivery);
      this.finished();
    }
    this.queues.delete(key);
  }

  private async deliver(delivery: WebhookDelivery): Promise<void> {
    if (this.delayMs > 0 && !(await this.lifetime.sleep(this.delayMs))) return;
    const { attempts, initialDelayMs, maxDelayMs } = this.config.retry;
    let retryAfterMs: number | undefined;
    for (let attempt = 0; attempt < attempts && !this.lifetime.closed; attempt++) {
      if (attempt > 0) {
        const backoff = Math.min(initialDelayMs * 2 ** (attempt - 1), maxDelayMs);
        if (!(await this.lifetime.sleep(Math.min(retryAfterMs ?? backoff, maxDelayMs)))) return;
      }
      const result = await this.post(delivery.url, delivery.body);
      delivery.attempts.push(result.status);
      retryAfterMs = result.retryAfterMs;
      if (!isRetryable(result.status)) break;
    }
    if (delivery.attempts.length === 0) return; // closed before the first attempt
    const last = delivery.attempts.at(-1) ?? 0;
    delivery.delivered = isSuccess(last);
    this.events.emit('webhook', delivery.event, last);
  }

  /** One POST as LiveKit's notifier makes it; 0 on a connection error. */
  private post(url: string, body: string): Promise<{ status: number; retryAfterMs?: number }> {
    const headers = {
      Authorization: this.sign(body),
      'Content-Type': 'application/webhook+json',
      'User-Agent': 'LiveKit',
      'Content-Length': Buffer.byteLength(body),
    };
    const transport = url.startsWith('https:') ? https : http;
    return new Promise((resolve) => {
      let request: http.ClientRequest;
      try {
        request = transport.request(url, { method: 'POST', headers, agent: false, signal: this.lifetime.signal }, (res) => {
          res.resume();
          const done = () => resolve({ status: res.statusCode ?? 0, retryAfterMs: retryAfter(res) });
          res.on('end', done);
          res.on('error', done);
        });
      } catch {
        resolve({ status: 0 });
        return;
      }
      request.on('error', () => resolve({ status: 0 }));
      request.end(body);
    });
  }

  private finished(): void {
    this.pending -= 1;
    if (this.pending > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

/** go-retryablehttp honours `Retry-After` (seconds) on 429 and 503. */
function retryAfter(res: http.IncomingMessage): number | undefined {
  if (res.statusCode !== 429 && res.statusCode !== 503) return undefined;
  const seconds = Number(res.headers['retry-after']);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** LiveKit gives every event an `EV_` id and its creation time in seconds. */
function stamp(event: WebhookEvent): WebhookEvent {
  const copy = event.clone();
  if (!copy.id) copy.id = newId('EV_');
  if (!copy.createdAt) copy.createdAt = nowSeconds();
  return copy;
}

function takeKnob(knobs: Knob[], event: WebhookEvent): boolean {
  const knob = knobs.find((k) => k.remaining > 0 && k.filter(event));
  if (!knob) return false;
  knob.remaining -= 1;
  return true;
}
