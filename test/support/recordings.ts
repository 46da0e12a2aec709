import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Response } from 'supertest';
import type { Recording } from '../../src/services/recordings/recording.model';
import { eventually } from './eventually';
import type { TestStack } from './stack';

export const FIXTURE_MP4 = readFileSync(path.join(__dirname, '..', 'fixtures', 'sample.mp4'));

let roomCounter = 0;
/** A room name no other test uses. */
export const uniqueRoom = (label = 'room') => `${label}-${process.pid}-${++roomCounter}`;

/**
 * Admits a participant, which creates the room, and connects it to LiveKit with camera and
 * microphone, as the browser client does (a recording starts only once someone publishes).
 */
export async function joinRoom(stack: TestStack, roomName: string, participantName = 'alice') {
  const res = await stack.http().post('/token').send({ roomName, participantName }).expect(200);
  const admitted = res.body as { token: string; livekitUrl: string; identity: string };
  stack.livekit.addParticipant(roomName, { identity: admitted.identity, name: participantName, tracks: ['audio', 'video'] });
  return admitted;
}

export function roomMetadata(stack: TestStack, roomName: string): Promise<Record<string, unknown>> {
  return Promise.resolve(JSON.parse(stack.livekit.getRoom(roomName)?.metadata || '{}') as Record<string, unknown>);
}

export async function waitForRoomStatus(stack: TestStack, roomName: string, status: string) {
  await eventually(() => stack.livekit.getRoom(roomName)?.metadata.includes(`"recordingStatus":"${status}"`), {
    what: `room ${roomName} showing ${status}`,
  });
}

/** A recording as the service shows it (`/recordings/:name/info`, an entry of `/recordings`). */
export type ServiceRecording = Recording & { playable: boolean };

/** Polls the service's own view of a recording until `check` holds. */
export async function waitForRecording(
  stack: TestStack,
  name: string,
  check: (recording: ServiceRecording) => boolean,
): Promise<ServiceRecording> {
  return eventually(
    async () => {
      const res = await stack.http().get(`/recordings/${encodeURIComponent(name)}/info`);
      const recording = res.body as ServiceRecording;
      return res.status === 200 && check(recording) ? recording : undefined;
    },
    { what: `recording ${name}` },
  );
}

/** Joins, starts and stops a recording and waits until it is playable. */
export async function completeRecording(stack: TestStack, roomName = uniqueRoom()) {
  await joinRoom(stack, roomName);
  const started = await stack.http().post('/recordings/start').send({ roomName }).expect(200);
  const { name } = (started.body as { recording: ServiceRecording }).recording;
  await waitForRecording(stack, name, (r) => r.status === 'ACTIVE');
  await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  const recording = await waitForRecording(stack, name, (r) => r.playable);
  return { roomName, name, recording };
}

/** Every recording the service lists, page after page. */
export async function listAll(stack: TestStack): Promise<ServiceRecording[]> {
  const all: ServiceRecording[] = [];
  let cursor: string | undefined;
  do {
    const res = await stack
      .http()
      .get('/recordings')
      .query({ limit: 100, ...(cursor ? { cursor } : {}) })
      .expect(200);
    const page = res.body as { recordings: ServiceRecording[]; nextCursor: string | null };
    all.push(...page.recordings);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return all;
}

/** The keys under a prefix, straight from S3 (one page). */
export async function keysUnder(stack: TestStack, prefix: string): Promise<string[]> {
  const page = await stack.s3.client().send(new ListObjectsV2Command({ Bucket: stack.s3.bucket, Prefix: prefix }));
  return (page.Contents ?? []).map(({ Key }) => Key!);
}

export async function readObject(stack: TestStack, key: string): Promise<Buffer | undefined> {
  try {
    const object = await stack.s3.client().send(new GetObjectCommand({ Bucket: stack.s3.bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  } catch {
    return undefined;
  }
}

export async function putObject(stack: TestStack, key: string, body: string | Buffer, contentType?: string) {
  await stack.s3.client().send(new PutObjectCommand({ Bucket: stack.s3.bucket, Key: key, Body: body, ContentType: contentType }));
}

/** Every sidecar in the bucket that describes this recording, whatever its key. */
export async function sidecarsOf(stack: TestStack, recordingId: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await stack.s3.client().send(
      new ListObjectsV2Command({
        Bucket: stack.s3.bucket,
        Prefix: `${stack.config.recordings.path}.metadata/`,
        ContinuationToken: token,
      }),
    );
    for (const { Key } of page.Contents ?? []) {
      const body = await readObject(stack, Key!);
      if (body && (JSON.parse(body.toString('utf8')) as { id?: string }).id === recordingId) keys.push(Key!);
    }
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

/** A supertest parser that keeps a binary body as a Buffer (`.buffer(true).parse(binary)`). */
export function binary(res: Response, done: (err: Error | null, body: Buffer) => void) {
  const chunks: Buffer[] = [];
  const stream = res as unknown as NodeJS.ReadableStream;
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}
