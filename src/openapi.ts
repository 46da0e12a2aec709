import { z } from 'zod';
import {
  bulkDeleteSchema,
  joinTokenRequestSchema,
  layoutRequestSchema,
  listQuerySchema,
  mediaQuerySchema,
  queryInputOf,
  recordingNameSchema,
  roomNameSchema,
  roomRequestSchema,
  roomSettingsSchema,
  startRequestSchema,
  streamStartSchema,
  streamUpdateSchema,
  tokenRequestSchema,
  urlQuerySchema,
} from './models/api.model';
import { ERROR_CODES } from './services/platform/app-error';
import { recordingSchema } from './services/recordings/recording.model';
import { streamSchema } from './services/streams/stream.model';

/** Who may call an operation: nobody in particular, the host application, a permission in the room, or LiveKit. */
type Access =
  'public' | 'host' | 'record' | 'list' | 'play' | 'delete' | 'stream' | 'play or signed URL' | 'LiveKit signature' | 'metrics token';

/** A 200 answer: JSON of a schema, a recording or stream (`{message, recording}` when `message` is set), or other media. */
type Answer = { description: string; schema?: z.ZodType; ref?: 'Recording' | 'Stream'; message?: string; media?: string };

/** One operation as the OpenAPI description shows it, built from the schemas its controller validates with. */
export interface Operation {
  method: 'get' | 'head' | 'post' | 'put' | 'delete';
  /** As Express routes it (`/recordings/:name`). */
  path: string;
  summary: string;
  access: Access;
  body?: z.ZodType;
  query?: z.ZodType;
  /** Examples: the tests prove each passes its validator. */
  bodyExample?: unknown;
  queryExample?: Record<string, string>;
  answer: Answer;
  /** Statuses besides 200 worth naming (401/403 come with every guarded operation). */
  errors?: Record<number, string>;
}

/** What the API shows of a recording (the sidecar without S3's validators, plus `playable`). */
const recordingViewSchema = recordingSchema.omit({ mediaVerified: true, etag: true, lastModified: true }).extend({ playable: z.boolean() });
const errorSchema = z.object({ errorMessage: z.string(), code: z.enum(ERROR_CODES) });
const PATH_PARAMETERS: Record<string, z.ZodType> = { name: recordingNameSchema, roomName: roomNameSchema };

const ROOM = 'Weekly sync';
const RECORDING = 'Weekly_sync-RM_xRk9Zb2e-20261121T140512.mp4';
const YOUTUBE = 'rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop-qrst';

export const OPERATIONS: Operation[] = [
  {
    method: 'post',
    path: '/token',
    summary: 'Admit a person to a room: a LiveKit token (creates the room on first use)',
    access: 'public',
    body: tokenRequestSchema,
    bodyExample: { roomName: ROOM, participantName: 'Ada', passcode: 'correct-horse' },
    answer: {
      description: '{token, livekitUrl, roomName, identity, participantName, role, permissions, moderatorPasscode?, shortPasscodes?}',
    },
    errors: {
      400: 'bad input',
      401: 'not admitted',
      429: 'too many requests, or too many wrong passcodes (Retry-After)',
      503: 'a claim waited too long for the start-up repair (starting_up), or Redis, which holds the room locks and passcode counts, does not answer (redis_unavailable)',
    },
  },
  {
    method: 'get',
    path: '/config',
    summary: 'What the browser client connects to',
    access: 'public',
    answer: {
      description:
        '{livekitUrl, openAdmission, layouts, presets, roomStatuses}: the recording layouts, encoding presets and room statuses the client offers and reads',
    },
  },
  {
    method: 'post',
    path: '/join-tokens',
    summary: 'Mint a join link for a room',
    access: 'host',
    body: joinTokenRequestSchema,
    bodyExample: { roomName: ROOM, participantName: 'Ada', role: 'moderator', ttl: 3600 },
    answer: { description: '{joinToken, joinUrl, expiresAt}' },
  },
  {
    method: 'get',
    path: '/rooms/:roomName',
    summary: "A room's access settings",
    access: 'host',
    answer: { description: '{roomName, owner, hasPasscode, hasModeratorPasscode, shortPasscodes}' },
  },
  {
    method: 'put',
    path: '/rooms/:roomName',
    summary: "Set a room's passcodes and owner (a string sets, null removes)",
    access: 'host',
    body: roomSettingsSchema,
    bodyExample: { passcode: 'correct-horse', moderatorPasscode: 'battery-staple', owner: 'user-42' },
    answer: { description: '{roomName, owner, hasPasscode, hasModeratorPasscode, shortPasscodes}' },
  },

  {
    method: 'post',
    path: '/recordings/start',
    summary: "Start the room's recording, with options (`metadata` only with the host application's key)",
    access: 'record',
    body: startRequestSchema,
    bodyExample: { roomName: ROOM, layout: 'speaker', preset: 'H264_1080P_30', maxDuration: 3600, metadata: { meetingId: 'm-42' } },
    answer: {
      description:
        'Recording started: STARTING, with `waitingForPublisher` when nobody in the room publishes yet (it starts once someone does, else the start timeout ends it ABORTED with `noPublisher`)',
      ref: 'Recording',
      message: 'Recording started',
    },
    errors: {
      400: 'bad input',
      403: 'not allowed in this room, or metadata from a room token',
      404: 'no such room',
      409: 'already recording',
      502: 'LiveKit failed',
      503: 'LiveKit unavailable, or no recorder took the start (recorder_unavailable, Retry-After: egress busy or not running)',
    },
  },
  {
    method: 'post',
    path: '/recordings/layout',
    summary: "Change the running recording's layout",
    access: 'record',
    body: layoutRequestSchema,
    bodyExample: { roomName: ROOM, layout: 'grid' },
    answer: {
      description:
        "Layout changed, also while STARTING. LiveKit's stock egress template reads the layout once: the recording keeps the new layout in its record, and the picture changes from the next recording on",
      ref: 'Recording',
      message: 'Layout changed',
    },
    errors: { 409: 'not recording' },
  },
  {
    method: 'post',
    path: '/recordings/stop',
    summary: "Stop the room's recording",
    access: 'record',
    body: roomRequestSchema,
    bodyExample: { roomName: ROOM },
    answer: { description: 'Recording stopped', ref: 'Recording', message: 'Recording stopped' },
    errors: { 409: 'not recording' },
  },
  {
    method: 'get',
    path: '/recordings',
    summary: 'List recordings, newest first, a page at a time (also `metadata.<key>=<value>` filters)',
    access: 'list',
    query: listQuerySchema,
    queryExample: { roomName: ROOM, status: 'COMPLETE,LIMIT_REACHED', from: '2026-11-01T00:00:00Z', limit: '20' },
    answer: {
      description: '{recordings, nextCursor}',
      schema: z.object({ recordings: z.array(recordingViewSchema), nextCursor: z.string().nullable() }),
    },
  },
  {
    method: 'get',
    path: '/recordings/:name/info',
    summary: 'One recording',
    access: 'list',
    answer: { description: 'The recording', ref: 'Recording' },
    errors: { 404: 'no such recording' },
  },
  {
    method: 'get',
    path: '/recordings/:name/url',
    summary: 'A URL a browser can play (or download) the media from',
    access: 'play',
    query: urlQuerySchema,
    queryExample: { download: 'true' },
    answer: { description: '{recordingUrl, expiresAt}' },
    errors: { 409: 'not playable' },
  },
  {
    method: 'get',
    path: '/recordings/:name/thumbnail',
    summary: "The recording's poster image",
    access: 'play',
    answer: { description: 'JPEG', media: 'image/jpeg' },
    errors: { 404: 'none' },
  },
  {
    method: 'get',
    path: '/recordings/:name',
    summary: 'The media, Range-aware (206, 416), with ETag and Last-Modified',
    access: 'play or signed URL',
    query: mediaQuerySchema,
    answer: { description: 'The media', media: 'video/mp4' },
    errors: { 206: 'a range', 304: 'not modified', 409: 'not playable', 416: 'range not satisfiable', 429: 'too many media streams' },
  },
  {
    method: 'head',
    path: '/recordings/:name',
    summary: "The media's headers",
    access: 'play or signed URL',
    query: mediaQuerySchema,
    answer: { description: 'Headers only' },
  },
  {
    method: 'get',
    path: '/recordings/:name/download',
    summary: 'The media as an attachment with a readable file name',
    access: 'play or signed URL',
    query: mediaQuerySchema,
    answer: { description: 'The media', media: 'video/mp4' },
    errors: { 429: 'too many media streams' },
  },
  {
    method: 'delete',
    path: '/recordings',
    summary: 'Delete several recordings, each answered on its own',
    access: 'delete',
    body: bulkDeleteSchema,
    bodyExample: { names: [RECORDING] },
    answer: { description: '{results: [{name, deleted, status, code?, errorMessage?}]}' },
  },
  {
    method: 'delete',
    path: '/recordings/:name',
    summary: 'Delete a finished recording (the room is told by a data message)',
    access: 'delete',
    answer: { description: '{message}' },
    errors: { 404: 'no such recording', 409: 'still recording' },
  },

  {
    method: 'post',
    path: '/streams/start',
    summary: 'Go live to RTMP(S) or SRT destinations (keys are masked in every answer)',
    access: 'stream',
    body: streamStartSchema,
    bodyExample: { roomName: ROOM, urls: [YOUTUBE], layout: 'speaker' },
    answer: { description: 'Stream started', ref: 'Stream', message: 'Stream started' },
    errors: {
      400: 'bad input, a destination that is not public or does not resolve (one answer for both), or one LiveKit refused',
      404: 'no such room',
      409: 'already streaming',
      502: 'LiveKit failed',
      503: 'LiveKit or DNS unavailable, or no recorder took the start (recorder_unavailable, Retry-After: egress busy or not running)',
    },
  },
  {
    method: 'post',
    path: '/streams/update',
    summary: 'Add and remove destinations while live (a removal names the URL as added)',
    access: 'stream',
    body: streamUpdateSchema,
    bodyExample: {
      roomName: ROOM,
      addUrls: ['rtmps://a1b2c3.global-contribute.live-video.net:443/app/sk_us-west-2_abcdef'],
      removeUrls: [YOUTUBE],
    },
    answer: { description: 'Stream updated', ref: 'Stream', message: 'Stream updated' },
    errors: {
      400: 'bad input, a destination that is not public or does not resolve (one answer for both), or one LiveKit refused',
      404: 'not a destination',
      409: 'not streaming',
      503: 'DNS unavailable',
    },
  },
  {
    method: 'post',
    path: '/streams/stop',
    summary: "Stop the room's live stream",
    access: 'stream',
    body: roomRequestSchema,
    bodyExample: { roomName: ROOM },
    answer: { description: 'Stream stopped', ref: 'Stream', message: 'Stream stopped' },
    errors: { 409: 'not streaming' },
  },
  {
    method: 'get',
    path: '/streams/:roomName',
    summary: "The room's latest stream, running or ended (null when it never streamed)",
    access: 'stream',
    answer: { description: '{stream}', schema: z.object({ stream: streamSchema.nullable() }) },
  },

  {
    method: 'post',
    path: '/livekit/webhook',
    summary: "LiveKit's signed webhooks (application/webhook+json)",
    access: 'LiveKit signature',
    answer: { description: '{received: true} once applied' },
    errors: { 401: 'not signed by LiveKit', 503: 'not applied in time; LiveKit retries' },
  },
  { method: 'get', path: '/healthz', summary: 'The process is alive', access: 'public', answer: { description: '{status: "ok"}' } },
  {
    method: 'get',
    path: '/readyz',
    summary: 'LiveKit and S3 answer',
    access: 'public',
    answer: { description: '{status, checks}' },
    errors: { 503: 'not ready' },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (behind METRICS_TOKEN when set, always in production)',
    access: 'metrics token',
    answer: { description: 'Prometheus text format', media: 'text/plain' },
  },
  { method: 'get', path: '/openapi.json', summary: 'This description', access: 'public', answer: { description: 'OpenAPI 3.1' } },
  {
    method: 'get',
    path: '/docs',
    summary: 'This description, to read in a browser',
    access: 'public',
    answer: { description: 'HTML', media: 'text/html' },
  },
];

/** A zod schema as JSON Schema 2020-12, which OpenAPI 3.1 uses as is. */
const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'input') => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

const orOutput = (schema: z.ZodType) => {
  const input = jsonSchema(schema);
  return Object.keys(input).length > 0 ? input : jsonSchema(schema, 'output');
};

/** Grouped as a reader looks for them: admission, recordings, streams, and running the service. */
function tagOf(path: string): string {
  const first = path.split('/')[1];
  if (first === 'recordings' || first === 'streams') return first;
  return ['token', 'config', 'join-tokens', 'rooms'].includes(first) ? 'rooms' : 'operations';
}

const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

/** Query parameters, one per field of the (possibly transformed) object schema. */
function queryParameters(query: z.ZodType) {
  const object = query instanceof z.ZodPipe ? (query.in as z.ZodObject) : (query as z.ZodObject);
  return Object.entries(object.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: false,
    // What is sent is text; a coerced number reads as "anything" as input, so its output shape tells.
    schema: orOutput(queryInputOf(field as z.ZodType)),
  }));
}

function answerContent(answer: Answer) {
  if (answer.media) return { [answer.media]: {} };
  const ref = answer.ref && { $ref: `#/components/schemas/${answer.ref}` };
  const schema =
    ref && answer.message
      ? {
          type: 'object',
          properties: { message: { const: answer.message }, [answer.ref!.toLowerCase()]: ref },
          required: ['message', answer.ref!.toLowerCase()],
        }
      : (ref ?? (answer.schema ? jsonSchema(answer.schema, 'output') : { type: 'object' }));
  return { 'application/json': { schema } };
}

/** A bearer, METRICS_TOKEN, nothing, or (media for a `<video>`) a bearer or the signed URL's own query. */
function securityOf(access: Access) {
  if (access === 'public' || access === 'LiveKit signature') return [];
  if (access === 'metrics token') return [{ metricsToken: [] }];
  return access === 'play or signed URL' ? [{ bearer: [] }, {}] : [{ bearer: [] }];
}

function describe(operation: Operation) {
  const guarded = !['public', 'LiveKit signature'].includes(operation.access);
  const parameters = [
    ...[...operation.path.matchAll(/:(\w+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      schema: jsonSchema(PATH_PARAMETERS[name]),
    })),
    ...(operation.query ? queryParameters(operation.query) : []),
    ...(operation.path === '/livekit/webhook' ? [{ name: 'Authorization', in: 'header', required: true, schema: { type: 'string' } }] : []),
  ];
  const refusals =
    operation.access === 'metrics token'
      ? { 401: 'no valid METRICS_TOKEN' }
      : { 401: 'no valid credential', 403: 'not allowed in this room' };
  const errors = { ...(guarded ? refusals : {}), ...operation.errors };
  return {
    tags: [tagOf(operation.path)],
    summary: operation.summary,
    description: `Who may call it: ${operation.access}.`,
    operationId: `${operation.method}${operation.path.replace(/[/:.](\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
    security: securityOf(operation.access),
    ...(parameters.length ? { parameters } : {}),
    ...(operation.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: jsonSchema(operation.body), example: operation.bodyExample } },
          },
        }
      : {}),
    responses: {
      200: { description: operation.answer.description, content: answerContent(operation.answer) },
      ...Object.fromEntries(
        Object.entries(errors).map(([status, description]) => [
          status,
          {
            description,
            ...(Number(status) >= 400 ? { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } : {}),
          },
        ]),
      ),
    },
  };
}

/** The OpenAPI 3.1 description of every operation, generated from the request schemas. */
export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of OPERATIONS) {
    paths[openApiPath(operation.path)] = { ...paths[openApiPath(operation.path)], [operation.method]: describe(operation) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'recording-manager',
      version,
      description: 'Records LiveKit rooms to S3, streams them live, and serves the recordings. Errors are `{errorMessage, code}`.',
    },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: "The host application's ADMIN_API_KEY, or a room token from POST /token" },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN' },
      },
      schemas: {
        Recording: jsonSchema(recordingViewSchema, 'output'),
        Stream: jsonSchema(streamSchema, 'output'),
        Error: jsonSchema(errorSchema, 'output'),
      },
    },
  };
}
