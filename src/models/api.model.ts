import { z } from 'zod';
import { PASSCODE_MIN_LENGTH } from '../services/rooms/access.model';
import { badRequest } from '../services/platform/app-error';
import { ENCODING_FIELDS, encodingSchema, LAYOUTS, PRESETS, recordingMetadataSchema } from '../services/recordings/recording-options.model';
import { RECORDING_STATUSES, type RecordingStatus } from '../services/recordings/recording.model';
import { streamProtocolOf } from '../services/streams/stream.model';

/** Control characters could break a header or a log line; everything else of any script is welcome. */
const noControlCharacters = (value: string) => !/\p{Cc}/u.test(value);

/** A required text field; messages name the field themselves, so problems are reported without a path. */
const textField = (field: string, maxLength: number) =>
  z
    .string({ error: (issue) => (issue.input === undefined ? `${field} is required` : `${field} must be a string`) })
    .min(1, `${field} is required`)
    .max(maxLength, `${field} is at most ${maxLength} characters`)
    .refine(noControlCharacters, `${field} must not contain control characters`);

export const roomNameSchema = textField('roomName', 256);
export const participantNameSchema = textField('participantName', 128);

/**
 * A query filter: absent or empty means "no filter", as the reference treated it; given twice is an
 * error rather than a guess.
 */
const queryValue = <T extends z.ZodType>(field: string, schema: T) => {
  const value = z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .unknown()
      .refine((value) => !Array.isArray(value), `${field} must be given once`)
      .pipe(schema.optional()),
  );
  QUERY_INPUTS.set(value, schema);
  return value;
};

/** The schema of what a query value holds, for the API description (the wrapper above reads as "anything"). */
const QUERY_INPUTS = new WeakMap<z.ZodType, z.ZodType>();
export function queryInputOf(schema: z.ZodType): z.ZodType {
  const known = QUERY_INPUTS.get(schema);
  if (known) return known;
  return schema instanceof z.ZodPipe ? queryInputOf(schema.in as z.ZodType) : schema;
}

/** No "/" or "\", no leading ".", also once look-alikes are folded (fullwidth "／", "‥"...): nothing that reads as a path. */
const isOneSegment = (name: string) => !/[/\\]/.test(name) && !name.startsWith('.');

/** A recording's handle: one path segment, never "/", "\", a control character or a leading ".". */
export const recordingNameSchema = z
  .string()
  .min(1)
  .max(255)
  .refine((name) => isOneSegment(name) && isOneSegment(name.normalize('NFKC')) && noControlCharacters(name), 'not a recording name');

const roleSchema = z.enum(['moderator', 'participant'], { error: 'role must be moderator or participant' });
const passcodeSchema = (field: string) =>
  textField(field, 128).refine((value) => value.length >= PASSCODE_MIN_LENGTH, `${field} is at least ${PASSCODE_MIN_LENGTH} characters`);

/** POST /token: room and name, plus what admits the person (a join token or a passcode; the admin key goes in the header). */
export const tokenRequestSchema = z.object({
  roomName: roomNameSchema.optional(),
  participantName: participantNameSchema.optional(),
  role: roleSchema.optional(),
  joinToken: textField('joinToken', 4096).optional(),
  passcode: textField('passcode', 128).optional(),
});

/** PUT /rooms/:roomName (host application): a string sets, null removes, absent keeps. */
export const roomSettingsSchema = z
  .object({
    passcode: passcodeSchema('passcode').nullable().optional(),
    moderatorPasscode: passcodeSchema('moderatorPasscode').nullable().optional(),
    owner: textField('owner', 256).nullable().optional(),
  })
  .refine(
    (settings) => !settings.passcode || settings.passcode !== settings.moderatorPasscode,
    'passcode and moderatorPasscode must differ',
  );

/** POST /join-tokens (host application). */
export const joinTokenRequestSchema = z.object({
  roomName: roomNameSchema,
  participantName: participantNameSchema.optional(),
  role: roleSchema.optional(),
  /** Seconds. */
  ttl: z.number({ error: 'ttl must be a number of seconds' }).int().min(60, 'ttl is at least 60 seconds').optional(),
});

export const roomParamsSchema = z.object({ roomName: roomNameSchema });

/** A signed media URL's query (from /url): both or neither. */
export const mediaQuerySchema = z
  .object({
    expires: queryValue('expires', z.string().max(20)),
    signature: queryValue('signature', z.string().max(100)),
  })
  .passthrough();
export const roomRequestSchema = z.object({ roomName: roomNameSchema });

/** POST /recordings/start: the room, and optionally how to record it (defaults from config). */
export const startRequestSchema = z
  .object({
    roomName: roomNameSchema,
    layout: z.enum(LAYOUTS, { error: `layout must be one of ${LAYOUTS.join(', ')}` }).optional(),
    preset: z.enum(PRESETS, { error: `preset must be one of ${PRESETS.join(', ')}` }).optional(),
    ...encodingSchema.shape,
    audioOnly: z.boolean({ error: 'audioOnly must be true or false' }).optional(),
    maxDuration: z
      .number({ error: 'maxDuration must be a number of seconds' })
      .int('maxDuration must be whole seconds')
      .min(1, 'maxDuration is at least 1 second')
      .max(86_400, 'maxDuration is at most 86400 seconds (a day)')
      .optional(),
    metadata: recordingMetadataSchema.optional(),
  })
  .strict()
  .superRefine((request, ctx) => {
    const explicit = ENCODING_FIELDS.some((field) => request[field] !== undefined);
    if (explicit && request.preset)
      ctx.addIssue({ code: 'custom', message: 'give a preset or explicit width, height, fps and bitrates, not both' });
    if (request.audioOnly && (explicit || request.preset))
      ctx.addIssue({ code: 'custom', message: 'an audio-only recording takes no video settings' });
  });
export type StartRequest = z.infer<typeof startRequestSchema>;

/** DELETE /recordings: several at once, each answered on its own. */
export const bulkDeleteSchema = z
  .object({
    names: z
      .array(recordingNameSchema, { error: 'names must be a list of recording names' })
      .min(1, 'names lists at least one recording')
      .max(100, 'names lists at most 100 recordings')
      .refine((names) => new Set(names).size === names.length, 'names lists each recording once'),
  })
  .strict();

/** GET /recordings/:name/url?download=true: a URL that downloads rather than plays. */
export const urlQuerySchema = z.object({
  download: queryValue('download', z.enum(['true', 'false'], { error: 'download must be true or false' })).transform(
    (value) => value === 'true',
  ),
});

/** POST /recordings/layout. */
export const layoutRequestSchema = z.object({
  roomName: roomNameSchema,
  layout: z.enum(LAYOUTS, { error: `layout must be one of ${LAYOUTS.join(', ')}` }),
});

const MAX_DESTINATIONS = 5;

/**
 * An RTMP(S) or SRT destination: `rtmp(s)://host[:port]/[path/]app/key` (Amazon IVS, YouTube, Twitch)
 * or `srt://host:port?streamid=...`. Messages never quote it: it holds the stream key.
 */
const streamUrlSchema = z
  .string({ error: 'each URL must be a string' })
  .max(2048, 'a stream URL is at most 2048 characters')
  .refine((url) => noControlCharacters(url) && !/\s/.test(url), 'a stream URL holds no spaces or control characters')
  .refine(
    (url) => /^(rtmps?:\/\/[^/?#]+\/(?:[^/?#]+\/)*[^/?#]+\/[^/?#]+|srt:\/\/[^/?#]+(?:\/[^?#]*)?(?:\?[^#]*)?)$/i.test(url),
    'expected rtmp(s)://host/app/stream-key or srt://host:port?streamid=...',
  );
const urlList = (field: string, min: number) =>
  z
    .array(streamUrlSchema, { error: `${field} must be a list of URLs` })
    .min(min, `${field} lists at least ${min} URL`)
    .max(MAX_DESTINATIONS, `${field} lists at most ${MAX_DESTINATIONS} URLs`)
    .refine((urls) => new Set(urls).size === urls.length, `${field} lists each URL once`);

/** POST /streams/start: the room, its destinations (one protocol), and how it looks. */
export const streamStartSchema = z
  .object({
    roomName: roomNameSchema,
    urls: urlList('urls', 1).refine((urls) => new Set(urls.map(streamProtocolOf)).size <= 1, 'urls are all RTMP(S) or all SRT'),
    layout: z.enum(LAYOUTS, { error: `layout must be one of ${LAYOUTS.join(', ')}` }).optional(),
    preset: z.enum(PRESETS, { error: `preset must be one of ${PRESETS.join(', ')}` }).optional(),
  })
  .strict();
export type StreamStartRequest = z.infer<typeof streamStartSchema>;

/** POST /streams/update: destinations added and removed (a removal names the URL as it was added). */
export const streamUpdateSchema = z
  .object({
    roomName: roomNameSchema,
    addUrls: urlList('addUrls', 0).default([]),
    removeUrls: urlList('removeUrls', 0).default([]),
  })
  .strict()
  .refine((request) => request.addUrls.length + request.removeUrls.length > 0, 'give addUrls or removeUrls');
export type StreamUpdateRequest = z.infer<typeof streamUpdateSchema>;

/** A point in time: milliseconds since the epoch, or an ISO 8601 date. */
const timeSchema = (field: string) =>
  z.string().transform((value, ctx) => {
    const time = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(time)) {
      ctx.addIssue({ code: 'custom', message: `${field} must be milliseconds since the epoch or an ISO 8601 date` });
      return z.NEVER;
    }
    return time;
  });

export const listQuerySchema = z
  .object({
    roomName: queryValue('roomName', roomNameSchema),
    roomId: queryValue('roomId', z.string().max(64, 'roomId is at most 64 characters')),
    limit: queryValue(
      'limit',
      z.coerce
        .number({ error: 'limit must be a number' })
        .int('limit must be a whole number')
        .min(1, 'limit is at least 1')
        .max(100, 'limit is at most 100'),
    ).transform((limit) => limit ?? 50),
    cursor: queryValue('cursor', z.string().max(4096, 'cursor is not one this service issued')),
    status: queryValue(
      'status',
      z.string().transform((value, ctx) => {
        const statuses = value.split(',').map((status) => status.trim().toUpperCase());
        const unknown = statuses.filter((status) => !(RECORDING_STATUSES as readonly string[]).includes(status));
        if (unknown.length > 0) {
          ctx.addIssue({ code: 'custom', message: `status must be one or more of ${RECORDING_STATUSES.join(', ')} (comma-separated)` });
          return z.NEVER;
        }
        return statuses as RecordingStatus[];
      }),
    ),
    from: queryValue('from', timeSchema('from')),
    to: queryValue('to', timeSchema('to')),
  })
  .transform(({ status, ...query }, ctx) => {
    if (query.from !== undefined && query.to !== undefined && query.from >= query.to) {
      ctx.addIssue({ code: 'custom', message: 'from must be before to' });
      return z.NEVER;
    }
    return { ...query, statuses: status };
  });

export const recordingParamsSchema = z.object({ name: recordingNameSchema });

const METADATA_PREFIX = 'metadata.';

/**
 * `metadata.<key>=<value>` query parameters: recordings whose metadata has exactly that value (as
 * text) for each key given. Undefined when there are none.
 */
export function metadataFilterOf(query: Record<string, unknown>): Record<string, string> | undefined {
  const entries = Object.entries(query).filter(([key]) => key.startsWith(METADATA_PREFIX));
  if (entries.length === 0) return undefined;
  if (entries.length > 5) throw badRequest('at most 5 metadata filters');
  for (const [key, value] of entries) {
    const name = key.slice(METADATA_PREFIX.length);
    if (!/^[\w.-]{1,64}$/.test(name)) throw badRequest(`${key}: not a metadata key`);
    if (typeof value !== 'string' || value.length > 256) throw badRequest(`${key} must be given once, at most 256 characters`);
  }
  return Object.fromEntries(entries.map(([key, value]) => [key.slice(METADATA_PREFIX.length), value as string]));
}

/** Parses request input or answers 400 with every problem, one per line. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const field = issue.path.join('.');
    return field && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
  });
  throw badRequest(problems.join('; '), { problems });
}
