import { GetObjectCommand } from '@aws-sdk/client-s3';
import { EgressStatus } from '@livekit/protocol';
import type { Recording, RecordingView } from '../src/services/recordings/recording.model';
import { eventually } from './support/eventually';
import { LiveKitDouble } from './support/livekit-double';
import { S3TestServer } from './support/s3-server';
import { HOST_HEADERS, type ServiceProcess, freePort, runService, waitReady, peerEnv } from './support/service-process';

/** What POST /recordings/start answers. */
type StartAnswer = { recording: RecordingView };

/**
 * The service is SIGKILLed during an active recording and started again on the same port. Its
 * state must converge both when LiveKit's retried webhooks reach the new process and when they
 * never come (the start-up reconcile pass).
 */
describe('a service killed mid-recording', () => {
  let s3: S3TestServer;
  let livekit: LiveKitDouble;
  let port: number;
  let service: ServiceProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    s3 = await S3TestServer.start();
    // Retries spread over a few seconds: long enough for a restart, as LiveKit's 1 s → 30 s backoff is.
    livekit = await LiveKitDouble.start({ lifecycle: 'manual', webhookRetry: { attempts: 10, initialDelayMs: 300, maxDelayMs: 1500 } });
    port = await freePort();
    livekit.webhookUrls = [`http://127.0.0.1:${port}/livekit/webhook`];
    env = {
      SERVER_PORT: String(port),
      ...peerEnv(livekit, s3),
      LOG_LEVEL: 'warn',
      RECONCILE_INTERVAL: '1h', // only the start-up pass, so the test sees what it alone repairs
    };
  }, 30_000);
  afterEach(() => service?.child.kill('SIGKILL'));
  afterAll(async () => {
    await livekit.close();
    await s3.close();
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${port}${path}`, { ...init, headers: { ...HOST_HEADERS, ...init.headers } });
  const post = (path: string, body: unknown) =>
    api(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  async function startService(extra: Record<string, string> = {}) {
    service = runService({ ...env, ...extra });
    await waitReady(service, port);
  }

  /** Starts a recording through the service, takes it to ACTIVE, then kills the service. */
  async function recordThenKill(roomName: string, options: Record<string, unknown> = {}) {
    await startService();
    expect((await post('/token', { roomName, participantName: 'p' })).status).toBe(200);
    const { recording } = (await (await post('/recordings/start', { roomName, ...options })).json()) as StartAnswer;
    await livekit.activateEgress(recording.id);
    // A cold process on a loaded machine: allow for it, and say what the service said if it never comes.
    await eventually(async () => ((await (await api(`/recordings/${recording.name}/info`)).json()) as RecordingView).status === 'ACTIVE', {
      timeoutMs: 15_000,
      what: `recording ACTIVE (service output: ${service!.output().slice(-300)})`,
    });
    service!.child.kill('SIGKILL');
    await service!.exited();
    return recording as { id: string; name: string };
  }

  /** The recording once the (restarted) service reports it COMPLETE. */
  const completed = (name: string) =>
    eventually(
      async () => {
        const info = (await (await api(`/recordings/${name}/info`)).json()) as RecordingView;
        return info.status === 'COMPLETE' ? info : undefined;
      },
      { timeoutMs: 20_000, what: 'recording complete after restart' },
    );

  async function expectConverged(recording: { name: string }, roomName: string) {
    const done = await completed(recording.name);
    expect(done.playable).toBe(true);
    expect(done.size).toBeGreaterThan(0);
    await eventually(() => livekit.getRoom(roomName)?.metadata.includes('"recordingStatus":"STOPPED"'), { what: 'room STOPPED' });
  }

  it("converges when LiveKit's retried webhooks reach the new process", async () => {
    const roomName = 'crash-retried';
    const recording = await recordThenKill(roomName);
    await livekit.endEgress(recording.id, { status: 'COMPLETE' });
    // The end's webhooks are refused while nothing listens (the egress's queue waits on the first).
    await eventually(() => livekit.deliveries.some((d) => d.event.egressInfo?.egressId === recording.id && d.attempts.includes(0)));
    await startService({ RECONCILE_INTERVAL: '0' }); // only the webhooks can repair it here
    await expectConverged(recording, roomName);
    // The state is written before the answer goes back, so the delivery may finish a moment later.
    const ended = () => livekit.deliveries.find((d) => d.event.event === 'egress_ended' && d.event.egressInfo?.egressId === recording.id);
    await eventually(() => ended()?.attempts.at(-1) === 200, { what: 'egress_ended delivered to the new process' });
  }, 60_000);

  it('converges when they never come, through the reconcile pass at start-up', async () => {
    const roomName = 'crash-dropped';
    const recording = await recordThenKill(roomName);
    livekit.webhooks.drop(() => true);
    await livekit.endEgress(recording.id, { status: 'COMPLETE' });
    await eventually(() => livekit.getEgress(recording.id)?.status === EgressStatus.EGRESS_COMPLETE, { what: 'egress complete' });
    livekit.webhooks.clear();
    await startService();
    await expectConverged(recording, roomName);
  }, 60_000);

  it('ends a recording at its maximum duration although the service was down when the deadline passed', async () => {
    const roomName = 'crash-deadline';
    const recording = (await recordThenKill(roomName, { maxDuration: 2 })) as { id: string; name: string; deadline: number };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, recording.deadline - Date.now()) + 200));
    expect(livekit.getEgress(recording.id)!.status).toBe(1); // still ACTIVE: nobody stopped it
    await startService();
    await eventually(() => livekit.getEgress(recording.id)!.status >= EgressStatus.EGRESS_ENDING, {
      what: 'the egress stopped by the start-up pass',
    });
    const done = await completed(recording.name);
    expect(done.endReason).toBe('maxDuration');
  }, 60_000);

  it('stops a recording whose room emptied, though the service restarted during the grace period', async () => {
    const roomName = 'crash-empty';
    // Long enough for the kill to come well before the first process's own timer would fire.
    await startService({ AUTO_STOP_GRACE: '4s' });
    livekit.addParticipant(roomName, { identity: 'last-one' });
    const { recording } = (await (await post('/recordings/start', { roomName })).json()) as StartAnswer;
    await livekit.activateEgress(recording.id);
    // This process must not stop it itself, however late the test gets to kill it on a loaded machine.
    livekit.failNext('StopEgress', { code: 'unavailable', msg: 'egress unreachable' }, 1000);
    livekit.removeParticipant(roomName, 'last-one');
    // Read from S3 itself: the mark must be durable before the process dies.
    const sidecarKey = `recordings/.metadata/${recording.name.replace(/\.mp4$/, '')}.json`;
    const marked = await eventually(
      async () => {
        const object = await s3.client().send(new GetObjectCommand({ Bucket: s3.bucket, Key: sidecarKey }));
        const { autoStopAt = 0 } = JSON.parse(await object.Body!.transformToString()) as Pick<Recording, 'autoStopAt'>;
        return autoStopAt > 0 ? { autoStopAt } : undefined;
      },
      { timeoutMs: 10_000, what: 'the room marked empty' },
    );
    service!.child.kill('SIGKILL');
    await service!.exited();
    livekit.clearFaults();
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, marked.autoStopAt - Date.now()) + 200));
    expect(livekit.getEgress(recording.id)!.status).toBe(1); // still ACTIVE: nobody stopped it
    await startService({ AUTO_STOP_GRACE: '4s' });
    const done = await completed(recording.name);
    expect(done.endReason).toBe('roomEmpty');
  }, 60_000);
});
