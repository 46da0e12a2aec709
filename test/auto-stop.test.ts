import type { RecordingView } from '../src/services/recordings/recording.model';
import { uniqueRoom, waitForRecording } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

/** What POST /recordings/start answers. */
interface Started {
  message: string;
  recording: RecordingView;
}

describe('auto-stop when everyone has left', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ env: { AUTO_STOP_GRACE: '1s' } });
  });
  afterAll(async () => {
    await stack.close();
  });

  /** A room with people in it and a recording running (its recorder joined). */
  async function recordingWith(people: string[]) {
    const roomName = uniqueRoom('meeting');
    for (const identity of people) stack.livekit.addParticipant(roomName, { identity, name: identity, tracks: ['audio', 'video'] });
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as Started;
    await waitForRecording(stack, recording.name, (r) => r.status === 'ACTIVE');
    expect(stack.livekit.listParticipants(roomName).some((p) => p.identity === recording.id)).toBe(true);
    return { roomName, recording: recording as { id: string; name: string } };
  }

  it('stops the recording with roomEmpty once the last person has left and the grace period is over; the recorder does not count', async () => {
    const { roomName, recording } = await recordingWith(['alice', 'bob']);
    stack.livekit.removeParticipant(roomName, 'alice');
    await stack.livekit.webhooks.idle();
    expect(((await stack.http().get(`/recordings/${recording.name}/info`)).body as RecordingView).autoStopAt).toBeUndefined();

    const left = Date.now();
    stack.livekit.removeParticipant(roomName, 'bob');
    const marked = await waitForRecording(stack, recording.name, (r) => (r.autoStopAt ?? 0) > 0);
    expect(marked.autoStopAt! - left).toBeGreaterThanOrEqual(900);
    expect(marked.status).toBe('ACTIVE');
    const done = await waitForRecording(stack, recording.name, (r) => r.status === 'COMPLETE');
    expect(done.endReason).toBe('roomEmpty');
    expect(Number(stack.livekit.getEgress(recording.id)!.endedAt / 1_000_000n)).toBeGreaterThanOrEqual(marked.autoStopAt!);
    expect(done.playable).toBe(true);
  });

  it('keeps recording when someone is back by the end of the grace period', async () => {
    const { roomName, recording } = await recordingWith(['carol']);
    stack.livekit.removeParticipant(roomName, 'carol');
    await waitForRecording(stack, recording.name, (r) => (r.autoStopAt ?? 0) > 0);
    stack.livekit.addParticipant(roomName, { identity: 'carol-again', name: 'Carol' });
    const kept = await waitForRecording(stack, recording.name, (r) => r.autoStopAt === 0);
    expect(kept.status).toBe('ACTIVE');
    expect(stack.livekit.getEgress(recording.id)!.status).toBe(1);
    await stack.http().post('/recordings/stop').send({ roomName }).expect(200);
  });

  it('does nothing when AUTO_STOP is off', async () => {
    const manual = await startStack({ env: { AUTO_STOP: 'false', AUTO_STOP_GRACE: '200ms' } });
    try {
      const roomName = uniqueRoom('manual');
      manual.livekit.addParticipant(roomName, { identity: 'dan', tracks: ['video'] });
      const { recording } = (await manual.http().post('/recordings/start').send({ roomName }).expect(200)).body as Started;
      await waitForRecording(manual, recording.name, (r) => r.status === 'ACTIVE');
      manual.livekit.removeParticipant(roomName, 'dan');
      await manual.livekit.webhooks.idle();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const info = (await manual.http().get(`/recordings/${recording.name}/info`).expect(200)).body as RecordingView;
      expect(info).toMatchObject({ status: 'ACTIVE' });
      expect(info.autoStopAt).toBeUndefined();
    } finally {
      await manual.close();
    }
  });

  it('answers participant webhooks of rooms without a recording with 200 and changes nothing', async () => {
    const roomName = uniqueRoom('idle');
    stack.livekit.addParticipant(roomName, { identity: 'erin' });
    stack.livekit.removeParticipant(roomName, 'erin');
    await stack.livekit.webhooks.idle();
    const left = stack.livekit.deliveries.filter((d) => d.event.event === 'participant_left' && d.event.room?.name === roomName);
    expect(left.map((d) => d.attempts.join())).toEqual(['200']);
  });
});
