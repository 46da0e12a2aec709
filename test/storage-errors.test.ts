import { EgressStatus } from 'livekit-server-sdk';
import type { RecordingView } from '../src/services/recordings/recording.model';
import { eventually } from './support/eventually';
import { joinRoom, uniqueRoom } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

/** The next LIST under `prefix` is refused (the S3 client does not retry a 403). */
const refuseList = (stack: TestStack, prefix: string) =>
  stack.s3Proxy.inject((method, _path, query) => method === 'GET' && query.get('prefix') === prefix, { kind: 'status', status: 403 });

describe('a failed S3 listing says what it was listing', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the open streams: the reconciler reports its stream job failed by name, and its other jobs still run', async () => {
    // A recording whose webhooks were lost: only the reconciler can see it started.
    const roomName = uniqueRoom('unseen');
    await joinRoom(stack, roomName);
    stack.livekit.webhooks.drop(() => true);
    const { recording } = (await stack.http().post('/recordings/start').send({ roomName }).expect(200)).body as {
      recording: RecordingView;
    };
    await eventually(() => stack.livekit.getEgress(recording.id)?.status === EgressStatus.EGRESS_ACTIVE, { what: 'egress active' });
    stack.livekit.webhooks.clear();

    refuseList(stack, 'recordings/.streams/open/');
    const report = await stack.services.reconciler.runPass({ full: false });
    expect(Object.keys(report.failed)).toEqual(['stream repair']);
    expect(report.failed['stream repair']).toMatch(/^S3 could not list the open streams \(/);
    expect(report.repaired).toBe(1);
    expect(((await stack.http().get(`/recordings/${recording.name}/info`).expect(200)).body as RecordingView).status).toBe('ACTIVE');
  });

  it('the recordings', async () => {
    refuseList(stack, 'recordings/.index/all/');
    const answer = await stack.http().get('/recordings').expect(502);
    expect(answer.body).toMatchObject({
      code: 's3_error',
      errorMessage: expect.stringMatching(/^S3 could not list recordings \(/) as unknown,
    });
  });
});
