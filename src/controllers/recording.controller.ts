import { pipeline } from 'node:stream/promises';
import { type Request, type RequestHandler, type Response, Router, json } from 'express';
import { authenticate, principalOf } from '../middlewares/auth.middleware';
import { mediaStreamLimit } from '../middlewares/security.middleware';
import {
  layoutRequestSchema,
  listQuerySchema,
  mediaQuerySchema,
  metadataFilterOf,
  parseInput,
  recordingParamsSchema,
  roomRequestSchema,
  startRequestSchema,
  bulkDeleteSchema,
  urlQuerySchema,
} from '../models/api.model';
import { AppError } from '../services/platform/app-error';
import { attachment, downloadName, toView } from '../services/recordings/recording.model';
import type { Services } from '../services';
import { type AccessService, type Permission, unauthenticated } from '../services/rooms/access.service';
import type { Guard } from '../services/recordings/recording.service';
import type { ObjectHead } from '../services/storage/s3.service';

const CONTENT_TYPES: Record<string, string> = { mp4: 'video/mp4', ogg: 'audio/ogg', mp3: 'audio/mpeg' };

/** S3 may hold a generic type; the file's extension tells a player more. */
function contentTypeOf(name: string, stored: string | undefined): string {
  if (stored && /^(video|audio)\//.test(stored)) return stored;
  return CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream';
}

function setMediaHeaders(res: Response, name: string, head: ObjectHead, contentLength: number) {
  res.set({
    'Accept-Ranges': 'bytes',
    'Content-Type': contentTypeOf(name, head.contentType),
    'Content-Length': String(contentLength),
    'Cache-Control': 'no-cache',
    // A signed URL may be played by a <video> on the host application's own origin.
    'Cross-Origin-Resource-Policy': 'cross-origin',
  });
  if (head.etag) res.set('ETag', head.etag);
  if (head.lastModified) res.set('Last-Modified', head.lastModified.toUTCString());
}

/** The caller may do `permission` to the recording (403 otherwise). */
const allowed =
  (access: AccessService, res: Response, permission: Permission): Guard =>
  (recording) =>
    access.authorizeRecording(principalOf(res), permission, recording);

/**
 * Media for a `<video>`, which cannot send a bearer token: a URL signed for this name and not yet
 * expired (from /url) lets the request through; anything else must authenticate as usual.
 */
function signedOrAuthenticated(access: AccessService): RequestHandler {
  const authenticated = authenticate(access);
  return (req, res, next) => {
    const { expires, signature } = parseInput(mediaQuerySchema, req.query);
    if (signature === undefined) return authenticated(req, res, next);
    if (!access.mediaSignatureValid(req.params.name as string, expires, signature)) {
      throw unauthenticated('The media URL has expired or its signature is not valid', 'invalid_media_url');
    }
    res.locals.signed = true;
    next();
  };
}

/** The recordings API: the reference's paths and response shapes, plus paging and /info. */
export function recordingController({ recordings, access, log, mediaStreams }: Services): Router {
  const router = Router();
  const streamSlot = mediaStreamLimit(mediaStreams);
  const body = json({ limit: '16kb' });
  const nameOf = (req: Request) => parseInput(recordingParamsSchema, req.params).name;
  const mayPlay = (res: Response): Guard => (res.locals.signed ? () => undefined : allowed(access, res, 'play'));

  // Media first: it alone may be reached with a signed URL instead of a bearer token.
  router.head('/recordings/:name', signedOrAuthenticated(access), async (req, res) => {
    const name = nameOf(req);
    const head = await recordings.mediaHead(name, mayPlay(res));
    setMediaHeaders(res, name, head, head.size);
    res.status(200).end();
  });

  /** One ranged S3 read piped to the response; as an attachment with a readable file name for downloads. */
  const serveMedia = (download: boolean) => async (req: Request, res: Response) => {
    const name = nameOf(req);
    const reading = new AbortController();
    res.on('close', () => reading.abort());
    const media = await recordings.readMedia(
      name,
      { range: req.get('Range'), ifRange: req.get('If-Range'), ifNoneMatch: req.get('If-None-Match') },
      reading.signal,
      mayPlay(res),
    );
    if (media.kind === 'not-modified') {
      res.status(304).end();
      return;
    }
    if (media.kind === 'unsatisfiable') {
      const unsatisfiable = new AppError(416, 'range_not_satisfiable', 'The requested range is not satisfiable');
      res.status(416).set('Content-Range', `bytes */${media.size}`).json(unsatisfiable.answer);
      return;
    }
    const { object } = media;
    setMediaHeaders(res, name, object, object.contentLength);
    if (download) res.set('Content-Disposition', attachment(downloadName(media.recording)));
    if (media.kind === 'partial') res.status(206).set('Content-Range', `bytes ${media.start}-${media.end}/${object.size}`);
    try {
      await pipeline(object.body, res);
    } catch (error) {
      // The client went away (nothing to do) or S3 failed mid-body: the connection is closed so the
      // client sees an incomplete response rather than a silently short one.
      if (!reading.signal.aborted) log.warn({ err: error, recording: name }, 'media stream ended early');
      res.destroy();
    }
  };
  router.get('/recordings/:name', signedOrAuthenticated(access), streamSlot, serveMedia(false));
  router.get('/recordings/:name/download', signedOrAuthenticated(access), streamSlot, serveMedia(true));

  router.use('/recordings', authenticate(access));

  router.post('/recordings/start', body, async (req, res) => {
    const request = parseInput(startRequestSchema, req.body);
    access.authorize(principalOf(res), 'record', request.roomName);
    // The host application's own fields: its filters and notifications trust them.
    if (request.metadata !== undefined) access.authorizeAdmin(principalOf(res), "Only the host application's key may set metadata");
    const recording = await recordings.start(request);
    res.json({ message: 'Recording started', recording: toView(recording) });
  });

  router.post('/recordings/layout', body, async (req, res) => {
    const { roomName, layout } = parseInput(layoutRequestSchema, req.body);
    access.authorize(principalOf(res), 'record', roomName);
    const recording = await recordings.changeLayout(roomName, layout);
    res.json({ message: 'Layout changed', recording: toView(recording) });
  });

  router.post('/recordings/stop', body, async (req, res) => {
    const { roomName } = parseInput(roomRequestSchema, req.body);
    access.authorize(principalOf(res), 'record', roomName);
    const recording = await recordings.stop(roomName);
    res.json({ message: 'Recording stopped', recording: toView(recording) });
  });

  router.get('/recordings', async (req, res) => {
    const query = { ...parseInput(listQuerySchema, req.query), metadata: metadataFilterOf(req.query) };
    const principal = principalOf(res);
    // A person sees their own room's recordings: the filter defaults to it and may not name another.
    const roomName = principal.kind === 'member' ? (query.roomName ?? principal.roomName) : query.roomName;
    if (principal.kind === 'member') access.authorize(principal, 'list', roomName!);
    // Admitted openly: from their session's start on (the index is ordered by start, so this stays one LIST a page).
    const from = principal.kind === 'member' && principal.session ? Math.max(query.from ?? 0, principal.session.startedAt) : query.from;
    const page = await recordings.list({ ...query, roomName, from });
    res.json({ recordings: page.recordings.map(toView), nextCursor: page.nextCursor });
  });

  router.get('/recordings/:name/info', async (req, res) => {
    res.json(toView(await recordings.get(nameOf(req), allowed(access, res, 'list'))));
  });

  router.get('/recordings/:name/thumbnail', async (req, res) => {
    const reading = new AbortController();
    res.on('close', () => reading.abort());
    // Frames of the video: seen by those who may play it.
    const image = await recordings.thumbnail(nameOf(req), allowed(access, res, 'play'), reading.signal);
    res.set({ 'Content-Type': 'image/jpeg', 'Content-Length': String(image.contentLength), 'Cache-Control': 'private, max-age=3600' });
    await pipeline(image.body, res).catch(() => res.destroy());
  });

  router.get('/recordings/:name/url', async (req, res) => {
    const { download } = parseInput(urlQuerySchema, req.query);
    const { url, expiresAt } = await recordings.playbackUrl(nameOf(req), allowed(access, res, 'play'), download);
    res.json({ recordingUrl: url, expiresAt });
  });

  router.delete('/recordings', body, async (req, res) => {
    const { names } = parseInput(bulkDeleteSchema, req.body);
    res.json({ results: await recordings.deleteMany(names, allowed(access, res, 'delete')) });
  });

  router.delete('/recordings/:name', async (req, res) => {
    await recordings.delete(nameOf(req), allowed(access, res, 'delete'));
    res.json({ message: 'Recording deleted' });
  });

  return router;
}
