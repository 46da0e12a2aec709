import { binary, completeRecording, FIXTURE_MP4, joinRoom, readObject, uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';
import type { ErrorAnswer } from '../src/services/platform/app-error';
import type { RecordingView } from '../src/services/recordings/recording.model';

/** GET /recordings/:name/url. */
interface SignedUrl {
  recordingUrl: string;
}

/** DELETE /recordings: one answer per name asked for. */
interface BulkDeletion {
  results: Array<{ name: string; deleted: boolean; status: number; code?: string; errorMessage?: string }>;
}

describe('downloads and bulk deletion', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { RECORDING_PLAYBACK_STRATEGY: 'PROXY' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  it('downloads a recording as an attachment named after its room and start, whole or by range', async () => {
    const roomName = uniqueRoom('Réunion "Q4"');
    const { name, recording } = await completeRecording(stack, roomName);
    const res = await stack
      .http()
      .get(`/recordings/${encodeURIComponent(name)}/download`)
      .buffer(true)
      .parse(binary)
      .expect(200);
    expect((res.body as Buffer).equals(FIXTURE_MP4)).toBe(true);
    const started = new Date(recording.startedAt).toISOString().slice(0, 16).replace('T', ' ').replace(':', '.');
    const disposition = res.headers['content-disposition'];
    expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+\.mp4"; filename\*=UTF-8''/);
    expect(decodeURIComponent(disposition.split("UTF-8''")[1])).toBe(`${roomName.replace('"', '_').replace('"', '_')} ${started}.mp4`);
    const part = await stack
      .http()
      .get(`/recordings/${encodeURIComponent(name)}/download`)
      .set('Range', 'bytes=0-99')
      .expect(206);
    expect(part.headers['content-disposition']).toBe(disposition);
  });

  it('hands out a signed download URL that works without a bearer token', async () => {
    const { name } = await completeRecording(stack, uniqueRoom('linked'));
    const { recordingUrl } = (
      await stack
        .http()
        .get(`/recordings/${encodeURIComponent(name)}/url`)
        .query({ download: 'true' })
        .expect(200)
    ).body as SignedUrl;
    expect(recordingUrl).toMatch(new RegExp(`^/recordings/${encodeURIComponent(name)}/download\\?expires=\\d+&signature=`));
    const res = await stack.anonymous().get(recordingUrl).buffer(true).parse(binary).expect(200);
    expect(res.headers['content-disposition']).toMatch(/^attachment;/);
    expect((res.body as Buffer).equals(FIXTURE_MP4)).toBe(true);
  });

  it('presigns S3 downloads with the attachment header', async () => {
    const presigning = await startStack();
    try {
      const { name } = await completeRecording(presigning, uniqueRoom('presigned'));
      const { recordingUrl } = (
        await presigning
          .http()
          .get(`/recordings/${encodeURIComponent(name)}/url?download=true`)
          .expect(200)
      ).body as SignedUrl;
      expect(new URL(recordingUrl).searchParams.get('response-content-disposition')).toMatch(/^attachment; filename=/);
    } finally {
      await presigning.close();
    }
  });

  it('deletes several recordings at once, answering for each', async () => {
    const roomName = uniqueRoom('bulk');
    const first = await completeRecording(stack, roomName);
    const second = await completeRecording(stack, roomName);
    await joinRoom(stack, roomName);
    const running = ((await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as { recording: RecordingView })
      .recording;
    await waitForRecording(stack, running.name, (r) => r.status === 'ACTIVE');

    const res = await stack
      .http()
      .delete('/recordings')
      .send({ names: [first.name, second.name, running.name, 'nothing-here.mp4'] })
      .expect(200);
    expect((res.body as BulkDeletion).results.map((r) => [r.name, r.status, r.code ?? 'deleted'])).toEqual([
      [first.name, 200, 'deleted'],
      [second.name, 200, 'deleted'],
      [running.name, 409, 'recording_in_progress'],
      ['nothing-here.mp4', 404, 'not_found'],
    ]);
    expect(await readObject(stack, first.recording.mediaKey)).toBeUndefined();
    expect(await readObject(stack, second.recording.mediaKey)).toBeUndefined();
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  });

  it('deletes in bulk only what the caller may delete', async () => {
    const roomName = uniqueRoom('guarded-bulk');
    const { name, recording } = await completeRecording(stack, roomName);
    const { token: participant } = (
      await stack.http().post('/token').send({ roomName, participantName: 'p', role: 'participant' }).expect(200)
    ).body as { token: string };
    const res = await stack
      .anonymous()
      .delete('/recordings')
      .set('Authorization', `Bearer ${participant}`)
      .send({ names: [name] })
      .expect(200);
    expect((res.body as BulkDeletion).results).toEqual([expect.objectContaining({ name, deleted: false, status: 403, code: 'forbidden' })]);
    expect((await readObject(stack, recording.mediaKey))?.equals(FIXTURE_MP4)).toBe(true);
  });

  it.each([
    [{ names: [] }, /at least one/],
    [{ names: ['a.mp4', 'a.mp4'] }, /each recording once/],
    [{ names: Array.from({ length: 101 }, (_, i) => `r${i}.mp4`) }, /at most 100/],
    [{ names: ['../etc/passwd'] }, /not a recording name/],
    [{}, /names/],
  ])('refuses a bulk deletion of %j with 400', async (body, message) => {
    expect(((await stack.http().delete('/recordings').send(body).expect(400)).body as ErrorAnswer).errorMessage).toMatch(message);
  });
});
