import cors from 'cors';
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { Config } from '../config';
import { AppError } from '../services/platform/app-error';
import type { MediaStreamSlots } from '../services/recordings/media-streams.service';

const originOf = (url: string) => new URL(url).origin;

/**
 * helmet's headers, with a content security policy that lets the client do exactly what it does:
 * its own scripts and styles, LiveKit's signalling (WebSocket, and HTTP for its validation call),
 * and media from the S3 endpoint browsers reach when playback is presigned.
 */
export function securityHeaders(config: Config): RequestHandler {
  const livekit = new URL(config.livekit.publicUrl);
  const livekitHttp = `${livekit.protocol === 'wss:' ? 'https:' : 'http:'}//${livekit.host}`;
  const media = config.recordings.playbackStrategy === 'S3' ? [originOf(config.s3.publicEndpoint)] : [];
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        mediaSrc: ["'self'", 'blob:', ...media],
        connectSrc: ["'self'", `${livekit.protocol}//${livekit.host}`, livekitHttp],
        workerSrc: ["'self'", 'blob:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    // Media from a presigned S3 URL is another origin; the page itself stays isolated.
    crossOriginEmbedderPolicy: false,
  });
}

/** Browsers on other origins may call the API only when listed in CORS_ORIGINS (default: none, same origin only). */
export function corsPolicy(config: Config): RequestHandler | undefined {
  const origins = config.security.corsOrigins;
  if (origins.length === 0) return undefined;
  return cors({
    origin: origins,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Range', 'If-None-Match', 'If-Range'],
    exposedHeaders: ['Content-Range', 'Accept-Ranges', 'Content-Length', 'ETag', 'Retry-After'],
    maxAge: 600,
  });
}

/** Per client address and minute; generous enough that normal use never meets them. */
function limiter(perMinute: number, skip?: (method: string) => boolean): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: skip ? (req) => skip(req.method) : undefined,
    handler: (_req, res) => {
      res.status(429).json(new AppError(429, 'rate_limited', 'Too many requests; try again in a minute').answer);
    },
  });
}

export function rateLimits(config: Config) {
  const { tokenPerMinute, mutationsPerMinute } = config.security.rateLimits;
  return {
    token: limiter(tokenPerMinute),
    /** Starts, stops, deletions and room settings; reads are not limited. */
    mutations: limiter(mutationsPerMinute, (method) => method === 'GET' || method === 'HEAD' || method === 'OPTIONS'),
  };
}

/** A stream's slot frees when one of the client's streams ends: worth another try after a moment. */
const MEDIA_RETRY_AFTER_SECONDS = 5;

/**
 * One slot per media response, from its start until it is over ('close': finished, failed or
 * abandoned by the client). The client address is the rate limits' one (TRUST_PROXY, IPv6 by /56).
 */
export function mediaStreamLimit(slots: MediaStreamSlots): RequestHandler {
  return (req, res, next) => {
    let release: () => void;
    try {
      release = slots.take(ipKeyGenerator(req.ip ?? ''));
    } catch (error) {
      res.set('Retry-After', String(MEDIA_RETRY_AFTER_SECONDS));
      throw error;
    }
    res.once('close', release);
    next();
  };
}
