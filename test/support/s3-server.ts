import { createHash } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { eventually } from './eventually';
// s3rver ships no types; its constructor, run/close and its store's putObject are all we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: { port: number; address: string; silent: boolean; directory: string }) => S3rverInstance;

interface S3rverInstance {
  store: { putObject: typeof putObjectSurvivingDeletes };
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer: Server;
}

export const TEST_BUCKET = 'recordings-test';
export const TEST_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A real S3-protocol server (s3rver) on a random loopback port, with one bucket. */
export class S3TestServer {
  /** Responses s3rver has not finished logging yet. */
  private readonly open = new Set<ServerResponse>();

  private constructor(
    readonly endpoint: string,
    readonly bucket: string,
    private readonly server: { close(): Promise<void> },
    private readonly directory: string,
  ) {}

  static async start(bucket = TEST_BUCKET): Promise<S3TestServer> {
    const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
    server.store.putObject = putObjectSurvivingDeletes;
    const { port } = await server.run();
    const s3 = new S3TestServer(`http://127.0.0.1:${port}`, bucket, server, directory);
    s3.track(server.httpServer);
    await s3.client().send(new CreateBucketCommand({ Bucket: bucket }));
    return s3;
  }

  /** An S3 client configured the way the service configures its own. */
  client(): S3Client {
    return new S3Client({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: TEST_S3_CREDENTIALS,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  /**
   * Resolves once every response has ended and s3rver has logged it (its logger logs on the response's
   * 'close', which is why ours waits one turn more): closing before would have it log to a closed logger.
   */
  async idle(): Promise<void> {
    await eventually(() => this.open.size === 0, { what: "s3rver's responses ended" });
  }

  private track(server: Server): void {
    server.on('request', (_req, res: ServerResponse) => {
      this.open.add(res);
      res.once('close', () => setImmediate(() => this.open.delete(res)));
    });
  }

  async close(): Promise<void> {
    await this.server.close();
    // A write still landing (a request the service sent just before it closed) can refill a folder
    // being removed (ENOTEMPTY): fs retries that itself.
    await rm(this.directory, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  }
}

interface StoredObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: unknown;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: unknown, md5: string): Promise<void>;
}

/**
 * s3rver keeps keys as folders and removes a folder when a DELETE empties it; its own PUT writes with
 * a stream that has no error listener, so a PUT landing in a folder just being removed kills the
 * whole process. This PUT creates the folder again and retries instead (real S3 has no folders).
 */
async function putObjectSurvivingDeletes(this: FilesystemStore, object: StoredObject): Promise<{ size: number; md5: string }> {
  const content = Buffer.isBuffer(object.content) ? object.content : await collect(object.content);
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(path.dirname(objectPath), { recursive: true });
      await writeFile(objectPath, content);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 5) throw error;
    }
  }
  const md5 = createHash('md5').update(content).digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size: content.length, md5 };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
