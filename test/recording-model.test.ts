import { EgressInfo, EgressStatus } from 'livekit-server-sdk';
import { mergeRecording, type Recording, recordingFromEgress, roomStatusOf } from '../src/services/recordings/recording.model';
import { withOwnMetadata } from '../src/services/rooms/room-metadata.model';
import { safeNamePart } from '../src/services/recordings/recording.service';

const base: Recording = {
  id: 'EG_aaaaaaaaaaaa',
  name: 'room-RM_x-1.mp4',
  roomName: 'room',
  roomId: 'RM_x',
  status: 'STARTING',
  startedAt: 1000,
  duration: 0,
  size: 0,
  mediaKey: 'recordings/room-RM_x-1.mp4',
  mediaVerified: false,
  updatedAt: 1,
};
const at = (status: Recording['status'], extra: Partial<Recording> = {}): Recording => ({ ...base, status, updatedAt: 2, ...extra });

describe('the recording model', () => {
  it('maps every egress status to the room status participants see', () => {
    expect(
      ['STARTING', 'ACTIVE', 'ENDING', 'COMPLETE', 'LIMIT_REACHED', 'FAILED', 'ABORTED'].map((s) => roomStatusOf(s as Recording['status'])),
    ).toEqual(['STARTING', 'STARTED', 'STOPPING', 'STOPPED', 'STOPPED', 'FAILED', 'FAILED']);
  });

  it('moves forward and never backwards or out of a final status', () => {
    const active = mergeRecording(base, at('ACTIVE'));
    expect(active.status).toBe('ACTIVE');
    expect(mergeRecording(active, at('STARTING'))).toBe(active);
    const complete = mergeRecording(active, at('COMPLETE', { size: 10, duration: 3 }));
    expect(complete).toMatchObject({ status: 'COMPLETE', size: 10 });
    expect(mergeRecording(complete, at('ENDING'))).toBe(complete);
    expect(mergeRecording(complete, at('FAILED', { error: 'late' }))).toBe(complete);
  });

  it('changes nothing when the same event is applied twice', () => {
    const active = mergeRecording(base, at('ACTIVE'));
    expect(mergeRecording(active, at('ACTIVE', { updatedAt: 99 }))).toBe(active);
  });

  it('keeps an end reason decided earlier', () => {
    const timedOut = mergeRecording(base, at('ENDING', { endReason: 'startTimeout' }));
    expect(mergeRecording(timedOut, at('ABORTED', { endReason: 'stopped' })).endReason).toBe('startTimeout');
  });

  it("keeps the service's words for an end it decided, with LiveKit's error reported later beside them", () => {
    // The stop of a recording nobody published in may answer before egress has ended it.
    const waiting = mergeRecording(base, at('STARTING', { waitingForPublisher: true }));
    const stopping = mergeRecording(waiting, at('STARTING', { endReason: 'noPublisher', error: 'Nobody published within 30 s' }));
    const aborted = mergeRecording(stopping, at('ABORTED', { endReason: 'roomClosed', error: 'Start signal not received', updatedAt: 3 }));
    expect(aborted).toMatchObject({
      status: 'ABORTED',
      endReason: 'noPublisher',
      error: 'Nobody published within 30 s',
      livekitError: 'Start signal not received',
    });
    expect(aborted.waitingForPublisher).toBeUndefined();
    // Any other end keeps LiveKit's error as its own.
    expect(mergeRecording(waiting, at('FAILED', { error: 'encoder crashed' }))).toMatchObject({
      error: 'encoder crashed',
      livekitError: undefined,
    });
  });

  it('forgets waiting for a publisher once the recording has started', () => {
    const waiting = mergeRecording(base, at('STARTING', { waitingForPublisher: true }));
    expect(mergeRecording(waiting, at('STARTING', { updatedAt: 3 })).waitingForPublisher).toBe(true);
    expect(mergeRecording(waiting, at('ACTIVE')).waitingForPublisher).toBeUndefined();
  });

  it("reads an EgressInfo in the model's units (ms, seconds, bytes)", () => {
    const info = new EgressInfo({
      egressId: 'EG_bbbbbbbbbbbb',
      roomName: 'r',
      roomId: 'RM_y',
      status: EgressStatus.EGRESS_COMPLETE,
      startedAt: 1_700_000_000_123_456_789n,
      endedAt: 1_700_000_010_000_000_000n,
      details: 'End reason: StopEgress API',
      fileResults: [{ filename: 'recordings/r-RM_y-1.mp4', duration: 2_500_000_000n, size: 4096n }],
    });
    expect(recordingFromEgress(info, 5)).toMatchObject({
      id: 'EG_bbbbbbbbbbbb',
      name: 'r-RM_y-1.mp4',
      status: 'COMPLETE',
      startedAt: 1_700_000_000_123,
      endedAt: 1_700_000_010_000,
      duration: 2.5,
      size: 4096,
      mediaKey: 'recordings/r-RM_y-1.mp4',
      endReason: 'stopped',
    });
    expect(recordingFromEgress(new EgressInfo({ egressId: 'EG_c', roomName: 'r' }))).toBeUndefined();
  });
});

describe('room metadata', () => {
  it('keeps keys that are not ours and refuses to overwrite metadata that is not a JSON object', () => {
    expect(JSON.parse(withOwnMetadata('{"theme":"dark","recordingStatus":"STOPPED"}', { recordingStatus: 'STARTED' })!)).toEqual({
      theme: 'dark',
      recordingStatus: 'STARTED',
    });
    expect(JSON.parse(withOwnMetadata('', { recordingStatus: 'STARTING' })!)).toEqual({ recordingStatus: 'STARTING' });
    expect(withOwnMetadata('plain text of another app', { recordingStatus: 'STARTING' })).toBeUndefined();
    expect(withOwnMetadata('[1,2]', { recordingStatus: 'STARTING' })).toBeUndefined();
  });
});

describe('recording handles', () => {
  it('are URL-safe single path segments for room names in any language', () => {
    expect(safeNamePart('Test Room')).toBe('Test_Room');
    expect(safeNamePart('會議室 ünïcode')).toBe('會議室_ünïcode');
    expect(safeNamePart('../../etc/passwd')).toBe('_.._etc_passwd');
    expect(safeNamePart('a/b%2Fc{time}')).toBe('a_b_2Fc_time_');
    expect(safeNamePart('...')).toBe('room');
  });
});
