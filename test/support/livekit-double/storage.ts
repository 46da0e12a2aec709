import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { EncodedFileOutput, ImageOutput } from '@livekit/protocol';

/** Egress's own `storage.s3` config, used when a file output carries no upload block. */
export interface DefaultStorage {
  endpoint: string;
  bucket: string;
  accessKey: string;
  secret: string;
  region?: string;
  forcePathStyle?: boolean;
}

/** Where and how one object is uploaded. */
export interface S3Target {
  endpoint: string;
  bucket: string;
  accessKey: string;
  secret: string;
  sessionToken: string;
  region: string;
  forcePathStyle: boolean;
  metadata: Record<string, string>;
  tagging: string;
  contentDisposition: string;
}

/** The output's own `s3` block wins; otherwise egress's storage config; otherwise none (egress keeps the file on its disk). */
export function targetFor(output: EncodedFileOutput | ImageOutput, defaults: DefaultStorage | undefined): S3Target | undefined {
  if (output.output.case === 's3') {
    const s3 = output.output.value;
    return {
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      accessKey: s3.accessKey,
      secret: s3.secret,
      sessionToken: s3.sessionToken,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      metadata: { ...s3.metadata },
      tagging: s3.tagging,
      contentDisposition: s3.contentDisposition,
    };
  }
  if (!defaults) return undefined;
  return {
    ...defaults,
    sessionToken: '',
    region: defaults.region ?? '',
    forcePathStyle: defaults.forcePathStyle ?? false,
    metadata: {},
    tagging: '',
    contentDisposition: '',
  };
}

const withScheme = (endpoint: string) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`);

/** `FileInfo.location` as livekit/storage `s3.go` builds it. */
export function locationOf(target: S3Target, key: string): string {
  if (target.forcePathStyle) return `${withScheme(target.endpoint).replace(/\/+$/, '')}/${target.bucket}/${key}`;
  const host = target.endpoint ? new URL(withScheme(target.endpoint)).host : 's3.amazonaws.com';
  return `https://${target.bucket}.${host}/${key}`;
}

/** One PutObject with the target's settings; the client is destroyed afterwards so no socket stays open. */
export async function putObject(target: S3Target, key: string, body: Buffer, contentType: string, signal: AbortSignal): Promise<void> {
  const client = new S3Client({
    endpoint: target.endpoint ? withScheme(target.endpoint) : undefined,
    region: target.region || 'us-east-1',
    forcePathStyle: target.forcePathStyle,
    credentials: { accessKeyId: target.accessKey, secretAccessKey: target.secret, sessionToken: target.sessionToken || undefined },
    // s3rver and MinIO-style servers do not all speak the newer default checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: target.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        Metadata: target.metadata,
        Tagging: target.tagging || undefined,
        ContentDisposition: target.contentDisposition || undefined,
      }),
      { abortSignal: signal },
    );
  } finally {
    client.destroy();
  }
}
