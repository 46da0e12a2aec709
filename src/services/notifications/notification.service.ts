import { createHash, createHmac } from 'node:crypto';
import type { Logger } from '../platform/logger';
import { runAsJob } from '../platform/request-context';
import type { Metrics } from '../platform/metrics';
import { isFinal, producesMedia, type Recording, type RecordingView, statusRank, toView } from '../recordings/recording.model';
import type { Stream } from '../streams/stream.model';
import type { LockService } from '../platform/lock.service';
import type { S3Service } from '../storage/s3.service';

export const NOTIFICATION_TYPES = [
  'recording.started',
  'recording.updated',
  'recording.ended',
  'recording.failed',
  'recording.deleted',
  'stream.started',
  'stream.ended',
] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export interface NotificationOptions {
  urls: string[];
  signingKey: string;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  /** How often the outbox is read again for deliveries another (stopped) instance left. */
  scanIntervalMs: number;
}

/** What the customer's URL receives (the body is signed as it is sent). */
export interface Notification {
  /** The same on every retry, and for the same event seen twice: receivers deduplicate on it. */
  id: string;
  type: NotificationType;
  /** When it happened (ms since the epoch). */
  timestamp: number;
  /** What it is about: a recording (`recording.*`) or a live stream (`stream.*`, destinations masked). */
  recording?: RecordingView;
  stream?: Stream;
}

export type NotificationSubject = { recording: Recording } | { stream: Stream };

/** One notification on its way to one URL, as kept in the outbox. */
interface Delivery {
  url: string;
  body: string;
  attempts: number;
  nextAttemptAt: number;
  lastError?: string;
}

export const SIGNATURE_HEADER = 'X-Recording-Manager-Signature';
export const TIMESTAMP_HEADER = 'X-Recording-Manager-Timestamp';

/** `v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`, the timestamp in seconds as sent in its own header. */
export function signNotification(key: string, timestamp: number, body: string): string {
  return `v1=${createHmac('sha256', key).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** Queues `recording.deleted` (one id per recording, so a retry queues the same one); returns what to send. */
export const enqueueDeletion = (notifications: NotificationService, recording: Recording) =>
  notifications.enqueue(`${recording.id}:deleted`, 'recording.deleted', { recording });

/** The notifications a change of a recording gives, with ids that name the event itself. */
export function notificationsFor(previous: Recording | undefined, next: Recording): Array<{ id: string; type: NotificationType }> {
  if (previous === next) return [];
  const changes: Array<{ id: string; type: NotificationType }> = [];
  const wasUnder = (rank: number) => !previous || statusRank(previous.status) < rank;
  const failed = next.status === 'FAILED' || next.status === 'ABORTED';
  if (!failed && statusRank(next.status) >= 1 && wasUnder(1)) changes.push({ id: `${next.id}:started`, type: 'recording.started' });
  if (next.status === 'ENDING' && wasUnder(2)) changes.push({ id: `${next.id}:ending`, type: 'recording.updated' });
  if (
    previous &&
    !isFinal(next.status) &&
    previous.options &&
    next.options &&
    JSON.stringify(previous.options) !== JSON.stringify(next.options)
  ) {
    changes.push({ id: `${next.id}:updated:${next.updatedAt}`, type: 'recording.updated' });
  }
  // Ended once its media is seen in S3 (maybe at a later event or reconcile pass): a receiver can fetch it then.
  const playable = (recording: Recording | undefined) =>
    recording !== undefined && producesMedia(recording.status) && recording.mediaVerified;
  if (playable(next) && !playable(previous)) changes.push({ id: `${next.id}:ended`, type: 'recording.ended' });
  if (failed && (!previous || !isFinal(previous.status))) changes.push({ id: `${next.id}:failed`, type: 'recording.failed' });
  return changes;
}

/** A stream's notifications: when it goes live (or fails before), and when it ends. */
export function streamNotificationsFor(previous: Stream | undefined, next: Stream): Array<{ id: string; type: NotificationType }> {
  if (previous === next) return [];
  const changes: Array<{ id: string; type: NotificationType }> = [];
  const live = next.status !== 'FAILED' && next.status !== 'ABORTED' && statusRank(next.status) >= 1;
  if (live && (!previous || statusRank(previous.status) < 1)) changes.push({ id: `${next.id}:started`, type: 'stream.started' });
  if (isFinal(next.status) && (!previous || !isFinal(previous.status))) changes.push({ id: `${next.id}:ended`, type: 'stream.ended' });
  return changes;
}

/** What one POST came to: delivered, refused for good, or worth another try; with why when not delivered. */
type PostOutcome = { result: 'delivered' } | { result: 'refused' | 'retry'; reason: string };

/**
 * Signed HTTP POSTs to the customer's URLs (NOTIFY_URLS), at least once. Each delivery is written to
 * an outbox in S3 (`<S3_PREFIX>.outbox/`) before anything is sent, removed once a URL answered
 * 2xx, and retried with exponential backoff otherwise, so a restart loses nothing. Sending happens
 * after the caller has moved on: it never delays the answer to LiveKit.
 */
export class NotificationService {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private scanTimer?: NodeJS.Timeout;
  private stopped = true;
  /** After stop(): nothing more is sent from this process (the outbox keeps what is pending). */
  private closed = false;

  constructor(
    private readonly s3: S3Service,
    private readonly recordingsPath: string,
    private readonly locks: LockService,
    private readonly options: NotificationOptions,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  get enabled(): boolean {
    return this.options.urls.length > 0;
  }

  private get outbox() {
    return `${this.recordingsPath}.outbox/`;
  }

  /**
   * Queues one notification for every URL, durably, and returns the deliveries: the caller `send`s
   * them once the change they tell of is saved (or `discard`s them if it could not be).
   */
  async enqueue(id: string, type: NotificationType, subject: NotificationSubject): Promise<string[]> {
    if (!this.enabled) return [];
    const about = 'recording' in subject ? { recording: toView(subject.recording) } : subject;
    const body = JSON.stringify({ id, type, timestamp: Date.now(), ...about } satisfies Notification);
    return Promise.all(
      this.options.urls.map(async (url) => {
        const key = `${this.outbox}${createHash('sha256').update(`${id}\n${url}`).digest('hex').slice(0, 40)}.json`;
        await this.s3.putJson(key, { url, body, attempts: 0, nextAttemptAt: Date.now() } satisfies Delivery);
        return key;
      }),
    );
  }

  /** Sends queued deliveries in the background. */
  send(deliveries: string[]): void {
    for (const key of deliveries) this.schedule(key, 0);
  }

  /** Takes back deliveries whose change did not happen after all. */
  async discard(deliveries: string[]): Promise<void> {
    await Promise.all(deliveries.map((key) => this.s3.delete(key)));
  }

  /** Sends what the outbox holds (left by a restart or another instance), and looks again now and then. */
  start(): void {
    if (!this.enabled) return;
    this.stopped = false;
    const scan = () => {
      void runAsJob('notify-scan', () =>
        this.scan().catch((error: unknown) => this.log.warn({ err: error }, 'notification outbox not read; trying again later')),
      ).finally(() => {
        if (!this.stopped) this.scanTimer = setTimeout(scan, this.options.scanIntervalMs).unref();
      });
    };
    scan();
  }

  stop(): void {
    this.stopped = true;
    this.closed = true;
    clearTimeout(this.scanTimer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private async scan(): Promise<void> {
    for await (const key of this.s3.listKeys(this.outbox, 'the notification outbox')) {
      if (!this.timers.has(key)) this.schedule(key, 0);
    }
  }

  private schedule(key: string, delayMs: number) {
    if (this.closed) return;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(() => {
      this.timers.delete(key);
      void runAsJob('notify', () =>
        this.attempt(key).catch((error: unknown) => {
          this.log.warn({ err: error }, 'a notification could not be attempted; the next outbox scan retries it');
        }),
      );
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** One attempt, under a lock so that two instances never send the same delivery at once. */
  private async attempt(key: string): Promise<void> {
    await this.locks.withLock(`notify:${key}`, async () => {
      const stored = await this.s3.getText(key);
      if (stored === undefined) return; // delivered meanwhile
      const delivery = JSON.parse(stored) as Delivery;
      if (delivery.nextAttemptAt > Date.now()) return this.schedule(key, delivery.nextAttemptAt - Date.now());
      const outcome = await this.post(delivery);
      if (outcome.result === 'delivered') {
        this.metrics.notifications.inc({ outcome: 'delivered' });
        return this.s3.delete(key);
      }
      const attempts = delivery.attempts + 1;
      if (outcome.result === 'refused' || attempts >= this.options.maxAttempts) {
        this.metrics.notifications.inc({ outcome: 'given_up' });
        this.log.error({ url: new URL(delivery.url).origin, attempts, reason: outcome.reason }, 'a notification was given up');
        await this.s3.putJson(`${this.recordingsPath}.outbox-failed/${key.slice(this.outbox.length)}`, { ...delivery, attempts });
        return this.s3.delete(key);
      }
      this.metrics.notifications.inc({ outcome: 'retried' });
      const delay = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (attempts - 1));
      await this.s3.putJson(key, {
        ...delivery,
        attempts,
        nextAttemptAt: Date.now() + delay,
        lastError: outcome.reason,
      } satisfies Delivery);
      this.schedule(key, delay);
    });
  }

  /** 2xx: delivered; 5xx, 408, 429, a timeout or no connection: try again; any other answer: refused. */
  private async post(delivery: Delivery): Promise<PostOutcome> {
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'User-Agent': 'recording-manager',
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signNotification(this.options.signingKey, timestamp, delivery.body),
        },
        body: delivery.body,
        // A redirect would carry the signed body elsewhere: it counts as a refusal.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { result: 'delivered' };
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      return { result: retryable ? 'retry' : 'refused', reason: `status ${response.status}` };
    } catch (error) {
      return { result: 'retry', reason: error instanceof Error ? error.name : 'network error' };
    }
  }
}
