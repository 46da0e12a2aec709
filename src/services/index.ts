import { once } from 'node:events';
import { Redis } from 'ioredis';
import { EgressClient, RoomServiceClient, WebhookReceiver } from 'livekit-server-sdk';
import type { Config } from '../config';
import { AutoStopService, EgressService, WebhookService } from './egress';
import { NotificationService } from './notifications';
import {
  type Dependency,
  LocalLockService,
  type LockService,
  type Logger,
  Metrics,
  redisLockClientOptions,
  RedisLockService,
} from './platform';
import { type ReconcileReport, ReconcilerService, REPAIR_COUNTS } from './reconciler';
import { MediaStreamSlots, RecordingEventsService, recordingJobs, RecordingService } from './recordings';
import {
  AccessService,
  AdmissionService,
  type FailureCounter,
  MemoryFailureCounter,
  RedisFailureCounter,
  RoomService,
  RoomStore,
} from './rooms';
import { createS3Client, instrumentS3, RecordingStore, S3Service } from './storage';
import { type ResolveHost, StreamEventsService, streamRepairJob, StreamService, StreamStore, systemResolver } from './streams';

export interface Services {
  config: Config;
  log: Logger;
  metrics: Metrics;
  rooms: RoomService;
  access: AccessService;
  admission: AdmissionService;
  recordings: RecordingService;
  streams: StreamService;
  store: RecordingStore;
  roomRecords: RoomStore;
  webhooks: WebhookService;
  webhookReceiver: WebhookReceiver;
  reconciler: ReconcilerService;
  notifications: NotificationService;
  /** Open media responses, counted against MEDIA_MAX_STREAMS and MEDIA_MAX_STREAMS_PER_CLIENT. */
  mediaStreams: MediaStreamSlots;
  dependencies: Dependency[];
  /** Connects what must be connected before serving (Redis, when configured). */
  connect(): Promise<void>;
  /** Stops background work and releases locks and connections (graceful shutdown). */
  close(): Promise<void>;
}

/** Per-room locks: through Redis when several instances share it, else in this process. */
function createLocks(config: Config, log: Logger): { locks: LockService; redis?: Redis } {
  if (!config.redis) return { locks: new LocalLockService() };
  const redis = new Redis(config.redis.url, { ...redisLockClientOptions, lazyConnect: true });
  redis.on('error', (error) => log.warn({ err: error }, 'redis connection problem'));
  const locks = new RedisLockService(redis, {
    prefix: config.redis.keyPrefix,
    ttlMs: config.locks.ttlMs,
    waitTimeoutMs: config.locks.waitTimeoutMs,
    onLockLost: (key) => log.warn({ key }, 'a lock expired while its work was still running'),
  });
  return { locks, redis };
}

/** How long a stream destination's name may take to resolve before the request is answered 503. */
const DESTINATION_LOOKUP_TIMEOUT_MS = 5000;

/** Builds every service from the configuration; `overrides` lets a test or benchmark swap one piece. */
export function createServices(config: Config, log: Logger, overrides: { locks?: LockService; resolveHost?: ResolveHost } = {}): Services {
  const { livekit } = config;
  const metrics = new Metrics();
  const { roomClient, egressClient, waitingEgressClient } = livekitClients(config, metrics);
  const s3 = s3ServiceFor(config, metrics);
  const store = new RecordingStore(s3, config.recordings.path, log);
  const roomRecords = new RoomStore(s3, config.recordings.path, log);
  const rooms = new RoomService(roomClient, { appName: config.appName, ...livekit }, log);
  const egress = new EgressService(egressClient, config.s3, config.appName, waitingEgressClient);
  const { locks, redis } = overrides.locks ? { locks: overrides.locks } : createLocks(config, log);
  const notifications = new NotificationService(s3, config.recordings.path, locks, config.notifications, log, metrics);
  const commitDeps = { notifications, metrics, rooms, roomRecords, log };
  const events = new RecordingEventsService(store, s3, egress, locks, commitDeps);
  const access = new AccessService(accessOptions(config));
  // Claims wait for the start-up repair; with the reconciler off there is none, and nobody claims a name.
  const startupRepair = () => (config.reconcileIntervalMs === 0 ? false : reconciler.hasRepaired || reconciler.repaired.then(() => true));
  const admission = new AdmissionService(
    access,
    rooms,
    store,
    roomRecords,
    locks,
    passcodeFailures(config, redis),
    config,
    startupRepair,
    log,
  );
  const signMedia = (name: string, expires: number) => access.mediaSignature(name, expires);
  const recordings = new RecordingService({ config, store, s3, egress, rooms, events, locks, log, signMedia, notifications });
  const streamStore = new StreamStore(s3, config.recordings.path, log);
  const streamEvents = new StreamEventsService(streamStore, egress, locks, commitDeps);
  const resolveHost = overrides.resolveHost ?? systemResolver(DESTINATION_LOOKUP_TIMEOUT_MS);
  const streams = new StreamService({
    config,
    egress,
    events: streamEvents,
    store: streamStore,
    roomRecords,
    locks,
    log,
    resolveHost,
  });

  const autoStop = new AutoStopService(
    (roomName) => rooms.participants(roomName),
    { recording: events, stream: streamEvents },
    config.autoStop,
    log,
  );
  const { startTimeoutMs, path: prefix, fileTemplate, retentionMs } = config.recordings;
  const reconciler = new ReconcilerService({
    intervalMs: config.reconcileIntervalMs,
    egress,
    log,
    jobs: [
      streamRepairJob({ egress, store: streamStore, events: streamEvents, autoStop, log, startTimeoutMs }),
      ...recordingJobs({
        egress,
        store,
        events,
        s3,
        autoStop,
        log,
        startTimeoutMs,
        prefix,
        retentionMs,
        remove: (recording) => recordings.delete(recording.name, () => undefined),
        mediaInFolders: fileTemplate.includes('/'),
      }),
    ],
  });
  reconciler.on('pass', (report: ReconcileReport) => {
    for (const repair of REPAIR_COUNTS) if (report[repair] > 0) metrics.repairs.inc({ repair }, report[repair]);
  });
  metrics.gaugeOnScrape(
    'active',
    'Recordings and streams running now, by kind (from the open index and stream markers)',
    'kind',
    async () => ({
      recording: await store.index.count({ kind: 'open' }),
      stream: await streamStore.countOpen(),
    }),
  );

  return {
    config,
    log,
    metrics,
    rooms,
    access,
    admission,
    recordings,
    streams,
    store,
    roomRecords,
    webhooks: new WebhookService(events, streamEvents, autoStop, log),
    webhookReceiver: new WebhookReceiver(livekit.apiKey, livekit.apiSecret),
    reconciler,
    notifications,
    mediaStreams: new MediaStreamSlots(config.security.mediaStreams, metrics),
    dependencies: [
      { name: 'livekit', ping: () => rooms.ping() },
      { name: 's3', ping: () => s3.ping() },
      ...(redis ? [{ name: 'redis', ping: async () => void (await redis.ping()) }] : []),
    ],
    async connect() {
      if (redis && redis.status === 'wait') await Promise.all([redis.connect(), once(redis, 'ready')]);
    },
    async close() {
      autoStop.stop();
      notifications.stop();
      await reconciler.stop();
      if (locks instanceof RedisLockService) await locks.close();
      await redis?.quit().catch(() => undefined);
    },
  };
}

/** LiveKit's API clients, each call timed; StopEgress and UpdateStream may wait on LiveKit's search for the egress's handler (up to ~15 s). */
function livekitClients({ livekit }: Config, metrics: Metrics) {
  const { url, apiKey, apiSecret } = livekit;
  const clientOptions = { requestTimeout: Math.max(1, Math.ceil(livekit.requestTimeoutMs / 1000)) };
  return {
    roomClient: metrics.instrument('livekit', new RoomServiceClient(url, apiKey, apiSecret, clientOptions)),
    egressClient: metrics.instrument('livekit', new EgressClient(url, apiKey, apiSecret, clientOptions)),
    waitingEgressClient: metrics.instrument(
      'livekit',
      new EgressClient(url, apiKey, apiSecret, { requestTimeout: livekit.egressTimeoutMs / 1000 }),
    ),
  };
}

/** S3 through three clients: control requests (timed), presigning at the public endpoint, and media with its own socket pool. */
function s3ServiceFor({ s3 }: Config, metrics: Metrics): S3Service {
  return new S3Service(
    instrumentS3(createS3Client(s3), metrics),
    s3.bucket,
    createS3Client(s3, s3.publicEndpoint),
    s3.requestTimeoutMs,
    instrumentS3(createS3Client(s3, s3.endpoint, s3.mediaMaxSockets), metrics),
  );
}

const accessOptions = ({ appName, security, livekit }: Config) => ({
  appName,
  adminApiKey: security.adminApiKey,
  livekitApiKey: livekit.apiKey,
  livekitApiSecret: livekit.apiSecret,
  permissions: security.permissions,
  mediaUrlKey: security.mediaUrlKey,
  maxJoinTokenTtlMs: security.joinTokenMaxTtlMs,
  participantTokenTtlMs: livekit.participantTokenTtlMs,
});

/** Wrong passcodes are counted where the locks are: in Redis when instances share one, else here. */
function passcodeFailures(config: Config, redis: Redis | undefined): FailureCounter {
  const policy = config.security.passcodeLockout;
  return redis && config.redis
    ? new RedisFailureCounter(redis, policy, { prefix: config.redis.keyPrefix })
    : new MemoryFailureCounter(policy);
}
