import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
// s3rver ships no types; its constructor and run/close are all we use.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver');

export const TEST_BUCKET = 'recordings-test';
export const TEST_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A real S3-protocol server (s3rver) on a random loopback port, with one bucket. */
export class S3TestServer {
  private constructor(
    readonly endpoint: string,
    readonly bucket: string,
    private readonly server: { close(): Promise<void> },
    private readonly directory: string,
  ) {}

  static async start(bucket = TEST_BUCKET): Promise<S3TestServer> {
    const directory = await mkdtemp(path.join(tmpdir(), 's3rver-'));
    const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory });
    const { port } = await server.run();
    const s3 = new S3TestServer(`http://127.0.0.1:${port}`, bucket, server, directory);
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

  async close(): Promise<void> {
    await this.server.close();
    await rm(this.directory, { recursive: true, force: true });
  }
}
