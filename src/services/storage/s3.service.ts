import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Metrics } from '../platform/metrics';
import { AppError, upstreamError, upstreamUnavailable } from '../platform/app-error';

export interface ObjectHead {
  size: number;
  etag?: string;
  lastModified?: Date;
  contentType?: string;
  /** The object's user metadata (`x-amz-meta-*`). */
  metadata?: Record<string, string>;
}

export interface ObjectRead extends ObjectHead {
  body: Readable;
  /** Bytes in this response (the range's length for a ranged read). */
  contentLength: number;
}

/** Byte offsets, both inclusive, as in an HTTP Range. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The socket pool of the client for everything but media: the SDK's own default, written down. */
const CONTROL_MAX_SOCKETS = 50;

/** Where the bucket is and how to reach it (config.ts reads it from S3_*). */
export interface S3Settings {
  endpoint: string;
  publicEndpoint: string;
  egressEndpoint: string;
  /** Both unset: the AWS SDK's default credential chain (an IAM role), here and in egress. */
  accessKey?: string;
  secretKey?: string;
  region: string;
  bucket: string;
  requestTimeoutMs: number;
  /** The media client's own socket pool: media streams hold a socket for as long as their reader reads. */
  mediaMaxSockets: number;
}

/** Settings that make one client work with AWS S3, MinIO and s3rver alike; `maxSockets` sizes its pool. */
export function createS3Client(s3: S3Settings, endpoint = s3.endpoint, maxSockets = CONTROL_MAX_SOCKETS): S3Client {
  return new S3Client({
    endpoint,
    requestHandler: { httpAgent: { maxSockets }, httpsAgent: { maxSockets } },
    region: s3.region,
    // Without keys the SDK finds its own: AWS_* variables, shared config, an IAM role.
    credentials: s3.accessKey && s3.secretKey ? { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } : undefined,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

/** Every S3 command timed, by its name (GetObject, PutObject…), retries included. */
export function instrumentS3(client: S3Client, metrics: Metrics): S3Client {
  client.middlewareStack.add((next, context) => (args) => metrics.timeUpstream('s3', context.commandName ?? 'unknown', () => next(args)), {
    step: 'initialize',
    name: 'recordingManagerMetrics',
  });
  return client;
}

/** The bucket, seen through the few operations the service needs. Every failure is an AppError. */
export class S3Service {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    /** Signs URLs for the endpoint browsers reach, which may differ from ours. */
    private readonly publicClient: S3Client = client,
    /** A small request that hangs must not hold an API call or a webhook forever. */
    private readonly requestTimeoutMs = 10_000,
    /**
     * Media reads' own client and socket pool: a reader that stops reading holds its socket, and
     * enough of them must not leave webhooks, admission and listing waiting for one.
     */
    private readonly mediaClient: S3Client = client,
  ) {}

  /** For every request but media streams, whose length is the client's business. */
  private get deadline() {
    return { abortSignal: AbortSignal.timeout(this.requestTimeoutMs) };
  }

  async getText(key: string): Promise<string | undefined> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }), this.deadline);
      return await object.Body!.transformToString('utf-8');
    } catch (error) {
      if (isMissingKey(error)) return undefined;
      throw storageError(error, 'read a stored object', key);
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: JSON.stringify(value),
          ContentType: 'application/json',
        }),
        this.deadline,
      );
    } catch (error) {
      throw storageError(error, 'write a stored object', key);
    }
  }

  /** An empty object whose key is the information (an index entry). */
  async putEmpty(key: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: new Uint8Array(0), ContentLength: 0 }),
        this.deadline,
      );
    } catch (error) {
      throw storageError(error, 'write a stored object', key);
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), this.deadline);
      return {
        size: head.ContentLength ?? 0,
        etag: head.ETag,
        lastModified: head.LastModified,
        contentType: head.ContentType,
        metadata: head.Metadata,
      };
    } catch (error) {
      if (isMissingKey(error)) return undefined;
      throw storageError(error, 'inspect a stored object', key);
    }
  }

  /**
   * One GET, ranged when asked, through the media client. The body streams until `signal` aborts (the client went away); only
   * the wait for S3's answer has a time limit, since how long the body takes is the client's business.
   */
  async read(
    key: string,
    range: ByteRange | undefined,
    signal: AbortSignal,
    /** Evaluated by S3 itself, so a conditional read still costs one request. */
    ifNoneMatch?: string,
  ): Promise<ObjectRead | 'missing' | 'unsatisfiable' | 'not-modified'> {
    const request = new AbortController();
    const abort = () => request.abort();
    signal.addEventListener('abort', abort, { once: true });
    const deadline = setTimeout(abort, this.requestTimeoutMs);
    try {
      const object = await this.mediaClient.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range && `bytes=${range.start}-${range.end}`,
          IfNoneMatch: ifNoneMatch,
        }),
        { abortSignal: request.signal },
      );
      return {
        body: object.Body as Readable,
        contentLength: object.ContentLength ?? 0,
        size: totalSize(object.ContentRange) ?? object.ContentLength ?? 0,
        etag: object.ETag,
        lastModified: object.LastModified,
        contentType: object.ContentType,
      };
    } catch (error) {
      if (signal.aborted) throw new AppError(499, 'client_closed', 'The client went away');
      if (isMissingKey(error)) return 'missing';
      const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
      if (status === 416) return 'unsatisfiable';
      if (status === 304) return 'not-modified';
      throw storageError(error, 'read a recording', key);
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * One LIST: up to `maxKeys` keys under a prefix, in key order, after `startAfter`. `what`: what the
   * keys are, for the error ("S3 could not list <what>").
   */
  async listPage(
    prefix: string,
    what: string,
    options: { startAfter?: string; maxKeys: number },
  ): Promise<{ keys: string[]; truncated: boolean }> {
    try {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          StartAfter: options.startAfter,
          MaxKeys: options.maxKeys,
        }),
        this.deadline,
      );
      const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
      return { keys, truncated: page.IsTruncated === true };
    } catch (error) {
      throw storageError(error, `list ${what}`, prefix);
    }
  }

  /** Every key under a prefix, page after page; with a delimiter, only the keys at that level. `what` as for listPage. */
  async *listKeys(prefix: string, what: string, options: { delimiter?: string } = {}): AsyncGenerator<string> {
    let continuationToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            Delimiter: options.delimiter,
            ContinuationToken: continuationToken,
          }),
          this.deadline,
        );
      } catch (error) {
        throw storageError(error, `list ${what}`, prefix);
      }
      for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }), this.deadline);
    } catch (error) {
      throw storageError(error, 'delete a stored object', key);
    }
  }

  /** Many objects, a thousand per request (S3's DeleteObjects); a key that is not there is not an error. */
  async deleteMany(keys: string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += 1000) {
      const batch = keys.slice(start, start + 1000);
      try {
        const answer = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true },
          }),
          this.deadline,
        );
        const failed = answer.Errors?.[0];
        if (failed)
          throw new AppError(
            502,
            's3_error',
            `S3 could not delete ${answer.Errors!.length} object(s): ${failed.Code ?? 'error'} (${failed.Key})`,
          );
      } catch (error) {
        throw storageError(error, 'delete stored objects', batch[0]);
      }
    }
  }

  /** A GET URL for browsers; `contentDisposition` makes S3 answer with that header (a download). */
  async presignGet(key: string, ttlSeconds: number, contentDisposition?: string): Promise<string> {
    try {
      const command = new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseContentDisposition: contentDisposition });
      return await getSignedUrl(this.publicClient, command, {
        expiresIn: ttlSeconds,
      });
    } catch (error) {
      throw storageError(error, 'sign a URL', key);
    }
  }

  /** Readiness: the bucket answers. */
  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), this.deadline);
    } catch (error) {
      throw storageError(error, `reach bucket ${this.bucket}`);
    }
  }
}

/** "bytes 0-99/1234" → 1234. */
function totalSize(contentRange: string | undefined): number | undefined {
  const match = contentRange && /\/(\d+)$/.exec(contentRange);
  return match ? Number(match[1]) : undefined;
}

/**
 * The object is absent. A missing bucket is not "absent": it is a broken configuration, and saying
 * "not found" would tell people their recordings were deleted. (HEAD answers carry no error code.)
 */
function isMissingKey(error: unknown): boolean {
  if (!(error instanceof S3ServiceException) || error.$metadata.httpStatusCode !== 404) return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound';
}

/**
 * Maps an S3 failure to a clear answer: unreachable, slow or overloaded → 503, anything else → 502.
 * The key goes to the logs only (in `details`), never into the answer.
 */
function storageError(error: unknown, action: string, key?: string): AppError {
  if (error instanceof AppError) return error;
  const details = { key, cause: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0;
    const message = `S3 could not ${action} (${error.name})`;
    if (status === 429 || status >= 500) return withDetails(upstreamUnavailable('s3', message), details);
    return withDetails(upstreamError('s3', message), details);
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return withDetails(upstreamUnavailable('s3', `S3 did not answer in time (could not ${action})`), details);
  }
  return withDetails(upstreamUnavailable('s3', `S3 is unreachable (could not ${action})`), details);
}

const withDetails = (error: AppError, details: Record<string, unknown>) => new AppError(error.status, error.code, error.message, details);
