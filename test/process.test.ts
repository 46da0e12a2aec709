import { eventually } from './support/eventually';
import { HOST_HEADERS, runService, peerEnv } from './support/service-process';
import { LiveKitDouble } from './support/livekit-double';
import { S3TestServer } from './support/s3-server';

describe('the service process', () => {
  it('refuses to start with bad configuration, one clear line per bad value', async () => {
    const { output, exited } = runService({ SERVER_PORT: 'eighty', RECORDING_PLAYBACK_STRATEGY: 'FTP' });
    expect(await exited()).toBe(1);
    expect(output()).toContain('Invalid configuration');
    expect(output()).toMatch(/SERVER_PORT: .+\n/);
    expect(output()).toMatch(/RECORDING_PLAYBACK_STRATEGY: .+/);
  });

  it('serves, then on SIGTERM finishes the request in flight and exits cleanly', async () => {
    const s3 = await S3TestServer.start();
    const livekit = await LiveKitDouble.start();
    const { child, output, exited } = runService({
      SERVER_PORT: '0',
      ...peerEnv(livekit, s3),
    });
    try {
      const port = await eventually(() => /"port":(\d+)/.exec(output())?.[1], { timeoutMs: 10_000, what: 'listening' });
      const base = `http://127.0.0.1:${port}`;
      await eventually(() => fetch(`${base}/readyz`).then((res) => res.ok), { timeoutMs: 10_000, what: `ready (${output()})` });
      livekit.failNext('CreateRoom', { delayMs: 500 });
      const inFlight = fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...HOST_HEADERS },
        body: JSON.stringify({ roomName: 'shutdown', participantName: 'p' }),
      });
      await eventually(() => livekit.calls.some((call) => call.method === 'CreateRoom') || undefined);
      child.kill('SIGTERM');
      expect((await inFlight).status).toBe(200);
      expect(await exited()).toBe(0);
      expect(output()).toContain('shutting down');
    } finally {
      child.kill('SIGKILL');
      await livekit.close();
      await s3.close();
    }
  });
});
