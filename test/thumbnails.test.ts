import { readFileSync } from 'node:fs';
import path from 'node:path';
import { withComment } from './support/livekit-double/egress';
import { imageKeyOf, type RecordingView } from '../src/services/recordings/recording.model';
import { binary, completeRecording, joinRoom, keysUnder, putObject, readObject, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import { eventually } from './support/eventually';

const PICTURE = readFileSync(path.join(__dirname, 'fixtures', 'frame.jpeg'));

/** What POST /recordings/start answers. */
interface Started {
  message: string;
  recording: RecordingView;
}

describe('thumbnails', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('keeps the first useful image egress captured as the poster, byte for byte, and removes the others', async () => {
    const { name, recording } = await completeRecording(stack, uniqueRoom('posters'));
    expect(recording.thumbnailKey).toBe(`${recording.thumbnailPrefix}_00001.jpeg`);
    // What the double uploaded for this egress as its second image (the first one is black).
    const expected = withComment(PICTURE, `${recording.id}#1`);
    const res = await stack
      .http()
      .get(`/recordings/${encodeURIComponent(name)}/thumbnail`)
      .buffer(true)
      .parse(binary)
      .expect(200);
    const poster = res.body as Buffer;
    expect(res.headers['content-type']).toBe('image/jpeg');
    expect(poster.equals(expected)).toBe(true);
    // The other images go shortly after, off the path of the webhook.
    await eventually(async () => (await keysUnder(stack, `${recording.thumbnailPrefix}_`)).join() === recording.thumbnailKey, {
      what: 'only the poster left',
    });

    const other = await completeRecording(stack, uniqueRoom('posters'));
    const otherImage = await readObject(stack, other.recording.thumbnailKey!);
    expect(otherImage?.equals(poster)).toBe(false);
  });

  it('asks egress for images with the recording, into a folder of ours', async () => {
    const roomName = uniqueRoom('asked');
    await joinRoom(stack, roomName);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as Started;
    const request = stack.livekit.calls.filter((c) => c.method === 'StartRoomCompositeEgress').at(-1)!.request as {
      imageOutputs: Array<Record<string, unknown>>;
    };
    expect(request.imageOutputs).toHaveLength(1);
    expect(request.imageOutputs[0]).toMatchObject({
      captureInterval: 10,
      width: 640,
      height: 360,
      filenamePrefix: recording.thumbnailPrefix,
    });
    expect(request.imageOutputs[0].filenameSuffix).toBeUndefined(); // IMAGE_SUFFIX_INDEX, the default, is left out of the JSON
    expect(recording.thumbnailPrefix).toMatch(/^recordings\/\.thumbnails\/[0-9a-f]{24}\/frame$/);
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  });

  it('deletes the thumbnail, and any image a crash left, with its recording in one S3 request, not one each', async () => {
    const { name, recording } = await completeRecording(stack, uniqueRoom('short-lived'));
    expect(await readObject(stack, recording.thumbnailKey!)).toBeDefined();
    await eventually(async () => (await keysUnder(stack, `${recording.thumbnailPrefix}_`)).length === 1, { what: 'only the poster left' });
    // Images the background removal never got to (the service stopped): they go with the recording.
    const left = [imageKeyOf(recording.thumbnailPrefix!, 0), imageKeyOf(recording.thumbnailPrefix!, 2)];
    for (const key of left) await putObject(stack, key, PICTURE, 'image/jpeg');
    const before = stack.s3Proxy.requests.length;
    await stack
      .http()
      .delete(`/recordings/${encodeURIComponent(name)}`)
      .expect(200);
    expect(await keysUnder(stack, `${recording.thumbnailPrefix}_`)).toEqual([]);
    // One DeleteObjects (`POST /<bucket>?delete`) for the images, not a DELETE each. (s3rver sometimes
    // answers its first one 500 while it tidies folders, and the SDK asks again.)
    const sent = stack.s3Proxy.requests.slice(before);
    expect(sent.filter((r) => r.method === 'DELETE' && r.path.includes('.thumbnails/'))).toEqual([]);
    expect(sent.filter((r) => r.method === 'POST').length).toBeGreaterThanOrEqual(1);
  });

  it('has none for an audio-only recording, nor with THUMBNAILS=false', async () => {
    const roomName = uniqueRoom('voice');
    await joinRoom(stack, roomName);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName, audioOnly: true }).expect(200)).body as Started;
    expect(recording.thumbnailPrefix).toBeUndefined();
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    await waitForRecording(stack, recording.name, (r) => r.playable);
    const missing = await stack
      .http()
      .get(`/recordings/${encodeURIComponent(recording.name)}/thumbnail`)
      .expect(404);
    expect((missing.body as { code: string }).code).toBe('not_found');

    const plain = await startStack({ env: { THUMBNAILS: 'false' } });
    try {
      const { recording: without } = await completeRecording(plain, uniqueRoom('plain'));
      expect(without.thumbnailPrefix).toBeUndefined();
      expect(
        (plain.livekit.calls.find((c) => c.method === 'StartRoomCompositeEgress')!.request as { imageOutputs?: unknown[] }).imageOutputs,
      ).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
