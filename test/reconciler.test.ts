import { once } from 'node:events';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { EgressStatus } from '@livekit/protocol';
import type { Recording } from '../src/services/recordings/recording.model';
import { mapConcurrent } from '../src/services/platform/concurrency';
import { eventually } from './support/eventually';
import {
  FIXTURE_MP4,
  joinRoom,
  putObject,
  roomMetadata,
  uniqueRoom,
  waitForRecording,
  waitForRoomStatus,
  listAll,
} from './support/recordings';
import { startStack, type TestStack } from './support/stack';

type Listed = Recording & { playable: boolean };

async function startRecording(stack: TestStack, roomName = uniqueRoom()) {
  await joinRoom(stack, roomName);
  const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as { recording: Listed };
  return { roomName, recording };
}

/** Resolves after `count` more reconcile passes have completed. */
async function passes(stack: TestStack, count: number) {
  const target = stack.services.reconciler.passes + count;
  while (stack.services.reconciler.passes < target) await once(stack.services.reconciler, 'pass');
}

describe('the reconciler repairs what webhooks missed', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ livekit: { lifecycle: 'manual' }, env: { RECONCILE_INTERVAL: '250ms', RECORDING_START_TIMEOUT: '1s' } });
  });
  afterAll(async () => {
    await stack.close();
  });
  afterEach(() => stack.livekit.webhooks.clear());

  it('brings 50 recordings to their right final status and size with 30% of webhooks dropped', async () => {
    // Every third-or-so event is never delivered, egress_ended included (deterministic, so reproducible).
    let counter = 0;
    stack.livekit.webhooks.drop(() => counter++ % 10 < 3);
    const started = await mapConcurrent(
      Array.from({ length: 50 }, (_, i) => i),
      5,
      () => startRecording(stack),
    );
    await mapConcurrent(started, 5, async ({ recording }) => stack.livekit.activateEgress(recording.id));
    const ends = ['COMPLETE', 'FAILED', 'LIMIT_REACHED'] as const;
    await mapConcurrent(started, 5, async ({ roomName, recording }) => {
      const end = ends[Number(recording.id.charCodeAt(5)) % 3];
      if (end === 'COMPLETE') await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
      else await stack.livekit.endEgress(recording.id, { status: end, error: end === 'FAILED' ? 'encoder crashed' : undefined });
    });
    const ended = (egressId: string) =>
      (stack.livekit.getEgress(egressId)?.status ?? EgressStatus.EGRESS_STARTING) >= EgressStatus.EGRESS_COMPLETE;
    await eventually(() => started.every(({ recording }) => ended(recording.id)), {
      timeoutMs: 20_000,
      what: 'every egress ended',
    });
    await stack.livekit.webhooks.idle();
    expect(stack.livekit.deliveries.filter((d) => d.dropped === 'knob').length).toBeGreaterThan(30);

    stack.services.reconciler.start();
    await passes(stack, 2);
    await stack.services.reconciler.stop();

    const listed = new Map((await listAll(stack)).map((r) => [r.id, r]));
    for (const { roomName, recording } of started) {
      const egress = stack.livekit.getEgress(recording.id)!;
      const expectedStatus = { 3: 'COMPLETE', 4: 'FAILED', 5: 'ABORTED', 6: 'LIMIT_REACHED' }[egress.status as number];
      const shown = listed.get(recording.id);
      expect({ id: recording.id, status: shown?.status }).toEqual({ id: recording.id, status: expectedStatus });
      const file = egress.fileResults[0];
      expect(shown?.size).toBe(Number(file?.size ?? 0));
      expect(shown?.playable).toBe(expectedStatus !== 'FAILED');
      expect(await roomMetadata(stack, roomName)).toMatchObject({ recordingStatus: expectedStatus === 'FAILED' ? 'FAILED' : 'STOPPED' });
    }
  }, 60_000);

  it('stops an egress stuck in STARTING and records it FAILED (startTimeout), whatever LiveKit says later', async () => {
    const { roomName, recording } = await startRecording(stack);
    stack.services.reconciler.start();
    try {
      const failed = await waitForRecording(stack, recording.name, (r) => r.status === 'FAILED');
      expect(failed).toMatchObject({ endReason: 'startTimeout', playable: false });
      expect(failed.error).toMatch(/did not start within 1 s/);
      await waitForRoomStatus(stack, roomName, 'FAILED');
      // LiveKit reports the stop as ABORTED; the recording keeps the reason we decided.
      await eventually(() => stack.livekit.getEgress(recording.id)?.status === EgressStatus.EGRESS_ABORTED, { what: 'egress aborted' });
      await stack.livekit.webhooks.idle();
      await passes(stack, 1);
      expect((await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body).toMatchObject({
        status: 'FAILED',
        endReason: 'startTimeout',
      });
    } finally {
      await stack.services.reconciler.stop();
    }
  });

  it('settles from S3 an unfinished recording whose egress LiveKit forgot: COMPLETE with media, FAILED without', async () => {
    stack.livekit.webhooks.drop(() => true);
    const withMedia = await startRecording(stack);
    const withoutMedia = await startRecording(stack);
    for (const { recording } of [withMedia, withoutMedia]) await stack.livekit.activateEgress(recording.id);
    await stack.livekit.endEgress(withMedia.recording.id, { status: 'COMPLETE' });
    await stack.livekit.endEgress(withoutMedia.recording.id, { status: 'FAILED', skipUpload: true });
    await stack.livekit.webhooks.idle();
    stack.livekit.forgetEgress(withMedia.recording.id);
    stack.livekit.forgetEgress(withoutMedia.recording.id);
    stack.livekit.webhooks.clear();

    const report = await stack.services.reconciler.runPass();
    expect(report.settled).toBeGreaterThanOrEqual(2);
    const complete = (await stack.http().get(`/recordings/${withMedia.recording.name}/info`).expect(200)).body as Listed;
    expect(complete).toMatchObject({ status: 'COMPLETE', size: FIXTURE_MP4.length, playable: true });
    const failed = (await stack.http().get(`/recordings/${withoutMedia.recording.name}/info`).expect(200)).body as Listed;
    expect(failed).toMatchObject({ status: 'FAILED', playable: false });
    expect(failed.error).toMatch(/no media/);
    expect(await roomMetadata(stack, withMedia.roomName)).toMatchObject({ recordingStatus: 'STOPPED' });
  });

  it('adopts media that has no sidecar, and never a recording that was deleted', async () => {
    const orphanName = 'Board_meeting-RM_orphan12345-20261121120000000.mp4';
    await stack.s3.client().send(
      new PutObjectCommand({
        Bucket: stack.s3.bucket,
        Key: `recordings/${orphanName}`,
        Body: FIXTURE_MP4,
        ContentType: 'video/mp4',
        Metadata: { 'recording-manager': 'recording-manager', 'room-name': encodeURIComponent('Board meeting') },
      }),
    );
    // A finished recording, deleted, whose media then reappears (a late upload): it stays deleted.
    const { roomName, recording } = await startRecording(stack);
    await stack.livekit.activateEgress(recording.id);
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
    const done = await waitForRecording(stack, recording.name, (r) => r.playable);
    await stack.livekit.webhooks.idle();
    await stack.http().delete(`/recordings/${recording.name}`).expect(200);
    await putObject(stack, done.mediaKey, FIXTURE_MP4, 'video/mp4');
    // The reference's media names carry egress's {time} instead.
    const referenceOrphan = 'Test Room-RM_ref0099-2024-09-23T103015.mp4';
    await putObject(stack, `recordings/${referenceOrphan}`, FIXTURE_MP4, 'video/mp4');

    await stack.services.reconciler.runPass();
    const adopted = (await stack.http().get(`/recordings/${orphanName}/info`).expect(200)).body as Listed;
    expect(adopted).toMatchObject({
      roomName: 'Board meeting',
      roomId: 'RM_orphan12345',
      status: 'COMPLETE',
      size: FIXTURE_MP4.length,
      playable: true,
    });
    // It started when egress says in its name (the object's time is when its upload ended).
    expect(adopted.startedAt).toBe(Date.UTC(2026, 10, 21, 12, 0, 0));
    await stack.http().get(`/recordings/${orphanName}`).expect(200);
    expect(
      (
        await stack
          .http()
          .get(`/recordings/${encodeURIComponent(referenceOrphan)}/info`)
          .expect(200)
      ).body,
    ).toMatchObject({ roomName: 'Test Room', roomId: 'RM_ref0099', startedAt: Date.UTC(2024, 8, 23, 10, 30, 15) });
    // Still deleted, although LiveKit still lists its ended egress and its media is back.
    await stack.http().get(`/recordings/${recording.name}/info`).expect(404);
  });
});
