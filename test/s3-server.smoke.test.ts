import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3TestServer } from './support/s3-server';

describe('s3rver test server', () => {
  let s3: S3TestServer;
  beforeAll(async () => {
    s3 = await S3TestServer.start();
  });
  afterAll(async () => {
    await s3.close();
  });

  it('stores bytes exactly and pages listings past MaxKeys', async () => {
    const client = s3.client();
    for (let i = 0; i < 3; i++) {
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `k/${i}`, Body: `value-${i}` }));
    }
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: 'k/1' }));
    expect(await got.Body!.transformToString()).toBe('value-1');
    const first = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'k/', MaxKeys: 2 }));
    expect(first.IsTruncated).toBe(true);
    const second = await client.send(
      new ListObjectsV2Command({
        Bucket: s3.bucket,
        Prefix: 'k/',
        MaxKeys: 2,
        ContinuationToken: first.NextContinuationToken,
      }),
    );
    expect(second.Contents?.map((o) => o.Key)).toEqual(['k/2']);
  });
});
