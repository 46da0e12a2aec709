import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { booleanFlag, duration, keyPrefix, optionalUrl, originList, secret, url } from './services/platform/env-values';
import { permissionList } from './services/rooms/access.model';
import { DEFAULT_FILE_TEMPLATE, fileTemplateProblem } from './services/recordings/file-template.model';
import type { LockoutPolicy } from './services/rooms/failure-counter';
import type { NotificationOptions } from './services/notifications/notification.service';
import type { S3Settings } from './services/storage/s3.service';
import { LAYOUTS, PRESETS } from './services/recordings/recording-options.model';

/** Every setting the service reads from the environment, with its default. */
export const envSchema = z.object({
  NODE_ENV: z.string().default('production').transform(modeOf),
  SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(6080),
  APP_NAME: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only')
    .default('recording-manager'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  LIVEKIT_URL: url('http://localhost:7880'),
  LIVEKIT_PUBLIC_URL: optionalUrl(),
  LIVEKIT_API_KEY: z.string().min(1).optional(),
  LIVEKIT_API_SECRET: z.string().min(1).optional(),
  LIVEKIT_REQUEST_TIMEOUT: duration('10s'),
  LIVEKIT_EGRESS_TIMEOUT: duration('20s'),
  PARTICIPANT_TOKEN_TTL: duration('6h'),

  S3_ENDPOINT: url('http://localhost:9000'),
  S3_PUBLIC_ENDPOINT: optionalUrl(),
  EGRESS_S3_ENDPOINT: optionalUrl(),
  S3_ACCESS_KEY: z.string().min(1).optional(),
  S3_SECRET_KEY: z.string().min(1).optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name')
    .default('openvidu-appdata'),
  /** Where every object of the service lives: media, sidecars, the index, rooms, streams, the outbox. */
  S3_PREFIX: keyPrefix.default('recordings/'),
  /** S3_PREFIX's former name (the reference's), still read. */
  RECORDINGS_PATH: keyPrefix.optional(),
  S3_REQUEST_TIMEOUT: duration('10s'),
  S3_MEDIA_MAX_SOCKETS: z.coerce.number().int().min(1).default(100),

  RECORDING_PLAYBACK_STRATEGY: z.enum(['S3', 'PROXY']).default('S3'),
  RECORDING_URL_TTL: duration('1h'),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }).optional(),
  REDIS_KEY_PREFIX: z.string().min(1).max(100).default('recording-manager:'),
  LOCK_TTL: duration('15s'),
  LOCK_WAIT_TIMEOUT: duration('20s'),
  WEBHOOK_TIMEOUT: duration('10s'),
  RECONCILE_INTERVAL: duration('30s'),
  RECORDING_START_TIMEOUT: duration('30s'),
  RECORDING_FILE_TEMPLATE: z
    .string()
    .default(DEFAULT_FILE_TEMPLATE)
    .superRefine((template, ctx) => {
      const problem = fileTemplateProblem(template);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  RECORDING_LAYOUT: z.enum(LAYOUTS).default('grid'),
  RECORDING_PRESET: z.enum(PRESETS).optional(),
  RECORDING_MAX_DURATION: duration('0'),
  RETENTION_DAYS: z.coerce.number({ error: 'expected a number of days' }).min(0).default(0),
  NOTIFY_URLS: z
    .string()
    .default('')
    .transform((text) =>
      text
        .split(',')
        .map((url) => url.trim())
        .filter(Boolean),
    )
    .refine((urls) => urls.every((url) => /^https?:\/\/\S+$/.test(url)), 'expected http(s) URLs, comma-separated'),
  NOTIFY_SIGNING_KEY: secret(32),
  NOTIFY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
  NOTIFY_RETRY_BASE: duration('1s'),
  NOTIFY_RETRY_MAX: duration('1h'),
  NOTIFY_TIMEOUT: duration('10s'),
  NOTIFY_SCAN_INTERVAL: duration('30s'),
  THUMBNAILS: booleanFlag(true),
  THUMBNAIL_INTERVAL: duration('10s'),
  AUTO_STOP: booleanFlag(true),
  AUTO_STOP_GRACE: duration('15s'),
  SHUTDOWN_TIMEOUT: duration('10s'),

  ADMIN_API_KEY: secret(24),
  MEDIA_URL_SIGNING_KEY: secret(32),
  OPEN_ADMISSION: booleanFlag(false),
  PASSCODE_MAX_FAILURES: z.coerce.number().int().min(1).default(5),
  PASSCODE_FAILURE_WINDOW: duration('15m'),
  PASSCODE_LOCKOUT: duration('15m'),
  PASSCODE_LOCKOUT_MAX: duration('1h'),
  MODERATOR_PERMISSIONS: permissionList('record,list,play,delete,stream'),
  STREAM_PRIVATE_DESTINATIONS: booleanFlag(false),
  METRICS_TOKEN: secret(16),
  PARTICIPANT_PERMISSIONS: permissionList('list,play'),
  JOIN_TOKEN_MAX_TTL: duration('24h'),
  CORS_ORIGINS: originList,
  TRUST_PROXY: z.string().default('false'),
  RATE_LIMIT_TOKEN: z.coerce.number().int().min(1).default(120),
  RATE_LIMIT_MUTATIONS: z.coerce.number().int().min(1).default(600),
  MEDIA_MAX_STREAMS: z.coerce.number().int().min(1).default(100),
  MEDIA_MAX_STREAMS_PER_CLIENT: z.coerce.number().int().min(1).default(16),
});

/**
 * Development shortcuts apply only when NODE_ENV says `development` or `test`; unset, empty or
 * anything else is production, so a deployment that forgets NODE_ENV fails closed.
 */
function modeOf(nodeEnv: string): 'development' | 'test' | 'production' {
  return nodeEnv === 'development' || nodeEnv === 'test' ? nodeEnv : 'production';
}

/** LiveKit's development key pair (`livekit-server --dev`) and MinIO's root user, as the local stack uses them. */
const DEVELOPMENT_CREDENTIALS = {
  LIVEKIT_API_KEY: 'devkey',
  LIVEKIT_API_SECRET: 'secret',
  S3_ACCESS_KEY: 'minioadmin',
  S3_SECRET_KEY: 'minioadmin',
};

type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  port: number;
  appName: string;
  logLevel: Env['LOG_LEVEL'];
  livekit: {
    url: string;
    publicUrl: string;
    apiKey: string;
    apiSecret: string;
    requestTimeoutMs: number;
    /** StopEgress/UpdateStream: LiveKit may take 15 s to give up on an egress's handler. */
    egressTimeoutMs: number;
    participantTokenTtlMs: number;
  };
  s3: S3Settings;
  recordings: {
    path: string;
    playbackStrategy: Env['RECORDING_PLAYBACK_STRATEGY'];
    urlTtlMs: number;
    startTimeoutMs: number;
    /** Recordings older than this are deleted by the reconciler (0: never). */
    retentionMs: number;
    /** Images captured while recording, the first useful one kept as the poster (0: none). */
    thumbnailIntervalMs: number;
    /** Where media goes under `path` (see file-template.model). */
    fileTemplate: string;
    /** What a start without options gets. */
    defaults: { layout: Env['RECORDING_LAYOUT']; preset?: Env['RECORDING_PRESET']; maxDurationMs: number };
  };
  reconcileIntervalMs: number;
  /** Signed POSTs to the customer's URLs. */
  notifications: NotificationOptions;
  /** Stopping a room's recording once everyone has left, after a grace period. */
  autoStop: { enabled: boolean; graceMs: number };
  /** Absent: locks are in-process (one instance). Present: per-room locks through Redis (several instances). */
  redis?: { url: string; keyPrefix: string };
  locks: { ttlMs: number; waitTimeoutMs: number };
  webhookTimeoutMs: number;
  shutdownTimeoutMs: number;
  security: {
    /** The host application's key: admin rights, and the key join tokens are signed with. */
    adminApiKey?: string;
    /** Signs media URLs; every instance must share it. */
    mediaUrlKey: string;
    openAdmission: boolean;
    /** Wrong passcodes, per room and kind and per client address: when they lock out, and for how long. */
    passcodeLockout: LockoutPolicy;
    permissions: { moderator: Env['MODERATOR_PERMISSIONS']; participant: Env['PARTICIPANT_PERMISSIONS'] };
    joinTokenMaxTtlMs: number;
    corsOrigins: string[];
    /** Express's `trust proxy`: how many proxies (or which) may set X-Forwarded-For, for rate limits. */
    trustProxy: boolean | number | string;
    rateLimits: { tokenPerMinute: number; mutationsPerMinute: number };
    /** Media responses open at once, in all and per client address (429 beyond either). */
    mediaStreams: { max: number; maxPerClient: number };
    /** Streams may go to any address, private or not, with no lookup (an RTMP server inside your own network). */
    streamPrivateDestinations: boolean;
    /** When set, GET /metrics wants `Authorization: Bearer <token>`. */
    metricsToken?: string;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly problems: string[],
    note?: string,
  ) {
    super(`Invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}${note ? `\n${note}` : ''}`);
  }
}

/** The browser connects over WebSocket to the same host unless told otherwise. */
const toWebSocketUrl = (httpUrl: string) => httpUrl.replace(/^http(s?):/, 'ws$1:');

/** The key prefix: S3_PREFIX, else its former name RECORDINGS_PATH when only that one is set. */
const keyPrefixOf = (env: Env, given: Record<string, string>) =>
  given.S3_PREFIX === undefined && env.RECORDINGS_PATH !== undefined ? env.RECORDINGS_PATH : env.S3_PREFIX;

/** A setting given under its new name and its former one, with different values. */
const renamedProblems = (env: Env, given: Record<string, string>) =>
  given.S3_PREFIX !== undefined && env.RECORDINGS_PATH !== undefined && env.RECORDINGS_PATH !== env.S3_PREFIX
    ? ['S3_PREFIX: differs from RECORDINGS_PATH, its former name (set only S3_PREFIX)']
    : [];

/** Reads and validates the whole configuration at once, reporting every bad value. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "use the default", as the reference did with `||`.
  const present: Record<string, string> = Object.fromEntries(
    Object.entries(source).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''),
  );
  for (const prefix of ['S3_PREFIX', 'RECORDINGS_PATH']) if (source[prefix] === '') present[prefix] = '';
  const production = modeOf(present.NODE_ENV ?? 'production') === 'production';
  const parsed = envSchema.safeParse(production ? present : { ...developmentDefaults(present), ...present });
  const problems = [
    ...(parsed.success
      ? renamedProblems(parsed.data, present)
      : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)),
    ...(production ? productionProblems(present) : []),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems, production ? PRODUCTION_NOTE : undefined);
  const env = parsed.data;
  return {
    env: env.NODE_ENV,
    port: env.SERVER_PORT,
    appName: env.APP_NAME,
    logLevel: env.LOG_LEVEL,
    livekit: {
      url: env.LIVEKIT_URL,
      publicUrl: env.LIVEKIT_PUBLIC_URL ?? toWebSocketUrl(env.LIVEKIT_URL),
      // Set: in production productionProblems requires them, elsewhere developmentDefaults gives them.
      apiKey: env.LIVEKIT_API_KEY!,
      apiSecret: env.LIVEKIT_API_SECRET!,
      requestTimeoutMs: env.LIVEKIT_REQUEST_TIMEOUT,
      egressTimeoutMs: env.LIVEKIT_EGRESS_TIMEOUT,
      participantTokenTtlMs: env.PARTICIPANT_TOKEN_TTL,
    },
    s3: {
      endpoint: env.S3_ENDPOINT,
      publicEndpoint: env.S3_PUBLIC_ENDPOINT ?? env.S3_ENDPOINT,
      egressEndpoint: env.EGRESS_S3_ENDPOINT ?? env.S3_ENDPOINT,
      accessKey: env.S3_ACCESS_KEY,
      secretKey: env.S3_SECRET_KEY,
      region: env.AWS_REGION,
      bucket: env.S3_BUCKET,
      requestTimeoutMs: env.S3_REQUEST_TIMEOUT,
      mediaMaxSockets: env.S3_MEDIA_MAX_SOCKETS,
    },
    recordings: {
      path: keyPrefixOf(env, present),
      playbackStrategy: env.RECORDING_PLAYBACK_STRATEGY,
      urlTtlMs: env.RECORDING_URL_TTL,
      startTimeoutMs: env.RECORDING_START_TIMEOUT,
      fileTemplate: env.RECORDING_FILE_TEMPLATE,
      thumbnailIntervalMs: env.THUMBNAILS ? env.THUMBNAIL_INTERVAL : 0,
      retentionMs: Math.round(env.RETENTION_DAYS * 86_400_000),
      defaults: { layout: env.RECORDING_LAYOUT, preset: env.RECORDING_PRESET, maxDurationMs: env.RECORDING_MAX_DURATION },
    },
    reconcileIntervalMs: env.RECONCILE_INTERVAL,
    autoStop: { enabled: env.AUTO_STOP, graceMs: env.AUTO_STOP_GRACE },
    notifications: {
      urls: env.NOTIFY_URLS,
      // Unset only in production without NOTIFY_URLS, where nothing is sent.
      signingKey: env.NOTIFY_SIGNING_KEY ?? '',
      maxAttempts: env.NOTIFY_MAX_ATTEMPTS,
      retryBaseMs: env.NOTIFY_RETRY_BASE,
      retryMaxMs: env.NOTIFY_RETRY_MAX,
      timeoutMs: env.NOTIFY_TIMEOUT,
      scanIntervalMs: env.NOTIFY_SCAN_INTERVAL,
    },
    redis: env.REDIS_URL ? { url: env.REDIS_URL, keyPrefix: env.REDIS_KEY_PREFIX } : undefined,
    locks: { ttlMs: env.LOCK_TTL, waitTimeoutMs: env.LOCK_WAIT_TIMEOUT },
    webhookTimeoutMs: env.WEBHOOK_TIMEOUT,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT,
    security: {
      adminApiKey: env.ADMIN_API_KEY,
      mediaUrlKey: env.MEDIA_URL_SIGNING_KEY!, // set, as the LiveKit keys are
      openAdmission: env.OPEN_ADMISSION,
      passcodeLockout: {
        maxFailures: env.PASSCODE_MAX_FAILURES,
        windowMs: env.PASSCODE_FAILURE_WINDOW,
        lockMs: env.PASSCODE_LOCKOUT,
        maxLockMs: Math.max(env.PASSCODE_LOCKOUT, env.PASSCODE_LOCKOUT_MAX),
      },
      permissions: { moderator: env.MODERATOR_PERMISSIONS, participant: env.PARTICIPANT_PERMISSIONS },
      joinTokenMaxTtlMs: env.JOIN_TOKEN_MAX_TTL,
      corsOrigins: env.CORS_ORIGINS,
      trustProxy: trustProxySetting(env.TRUST_PROXY),
      rateLimits: { tokenPerMinute: env.RATE_LIMIT_TOKEN, mutationsPerMinute: env.RATE_LIMIT_MUTATIONS },
      mediaStreams: { max: env.MEDIA_MAX_STREAMS, maxPerClient: env.MEDIA_MAX_STREAMS_PER_CLIENT },
      streamPrivateDestinations: env.STREAM_PRIVATE_DESTINATIONS,
      metricsToken: env.METRICS_TOKEN,
    },
  };
}

/**
 * Settings that work but do not fit together, for a warning at start. More media streams than the
 * media client has sockets: those beyond the pool wait for one, and fail when S3_REQUEST_TIMEOUT ends.
 */
export function configWarnings(config: Config): string[] {
  const { max } = config.security.mediaStreams;
  return max > config.s3.mediaMaxSockets
    ? [
        `MEDIA_MAX_STREAMS (${max}) is more than S3_MEDIA_MAX_SOCKETS (${config.s3.mediaMaxSockets}): streams beyond the pool wait for a socket`,
      ]
    : [];
}

const PRODUCTION_NOTE =
  'NODE_ENV is not development or test, so this is production: it needs its own keys (.env.example). ' +
  'For local development run with NODE_ENV=development (npm run dev).';

/**
 * What production must set itself, and the well-known development credentials it refuses. It reads the
 * raw values, so one message names these along with any value the schema refuses.
 */
function productionProblems(present: Record<string, string>): string[] {
  const problems: string[] = [];
  const refuse = (name: string, why: string) => problems.push(`${name}: ${why}`);
  const needs = (name: string, when = '') => {
    if (!present[name]) refuse(name, `required in production${when}`);
  };
  if (present.LIVEKIT_API_KEY === DEVELOPMENT_CREDENTIALS.LIVEKIT_API_KEY)
    refuse('LIVEKIT_API_KEY', "LiveKit's development key pair is not allowed in production");
  else needs('LIVEKIT_API_KEY');
  const livekitSecretProblem = trivialLivekitSecret(present.LIVEKIT_API_SECRET);
  if (livekitSecretProblem) refuse('LIVEKIT_API_SECRET', livekitSecretProblem);
  if (present.S3_SECRET_KEY === DEVELOPMENT_CREDENTIALS.S3_SECRET_KEY)
    refuse('S3_SECRET_KEY', "MinIO's default secret is not allowed in production");
  if (Boolean(present.S3_ACCESS_KEY) !== Boolean(present.S3_SECRET_KEY)) {
    refuse(
      present.S3_ACCESS_KEY ? 'S3_SECRET_KEY' : 'S3_ACCESS_KEY',
      "set both S3 keys, or neither for the AWS SDK's default credential chain",
    );
  }
  needs('ADMIN_API_KEY');
  needs('MEDIA_URL_SIGNING_KEY');
  const notifyUrls = envSchema.shape.NOTIFY_URLS.safeParse(present.NOTIFY_URLS);
  if (notifyUrls.success && notifyUrls.data.length > 0) needs('NOTIFY_SIGNING_KEY', ' when NOTIFY_URLS is set');
  return problems;
}

/**
 * LiveKit's own server, outside development mode, logs "secret is too short, should be at least 32
 * characters for security" for a shorter secret (livekit/livekit pkg/config/config.go, ValidateKeys:
 * len(secret) < 32, in bytes). Either half of the development pair guesses it, whichever way round.
 */
const LIVEKIT_SECRET_MIN_BYTES = 32;
function trivialLivekitSecret(secret: string | undefined): string | undefined {
  if (!secret) return 'required in production';
  if (secret === DEVELOPMENT_CREDENTIALS.LIVEKIT_API_SECRET || secret === DEVELOPMENT_CREDENTIALS.LIVEKIT_API_KEY) {
    return "LiveKit's development key pair is not allowed in production";
  }
  if (Buffer.byteLength(secret) < LIVEKIT_SECRET_MIN_BYTES)
    return `at least ${LIVEKIT_SECRET_MIN_BYTES} characters in production, as LiveKit's server asks`;
  return undefined;
}

/**
 * Development and test run without keys of their own: the local stack's credentials, and signing keys
 * derived from the LiveKit secret, which every instance of a development stack shares, so their
 * signatures agree without one more setting.
 */
function developmentDefaults(present: Record<string, string>): Record<string, string> {
  const livekitSecret = present.LIVEKIT_API_SECRET ?? DEVELOPMENT_CREDENTIALS.LIVEKIT_API_SECRET;
  return {
    ...DEVELOPMENT_CREDENTIALS,
    MEDIA_URL_SIGNING_KEY: developmentKey(livekitSecret, 'media URL'),
    NOTIFY_SIGNING_KEY: developmentKey(livekitSecret, 'notifications'),
  };
}

function developmentKey(livekitSecret: string, use: string): string {
  return createHmac('sha256', livekitSecret).update(`recording-manager ${use} key`).digest('base64url');
}

function trustProxySetting(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}
