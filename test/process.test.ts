import { eventually } from './support/eventually';
import {
  DEPLOYMENT_LIVEKIT_KEYS,
  HOST_HEADERS,
  deploymentEnv,
  freePort,
  runService,
  peerEnv,
  startOrExit,
  waitReady,
} from './support/service-process';
import { LiveKitDouble } from './support/livekit-double';
import { S3TestServer } from './support/s3-server';

describe('the service process', () => {
  it('refuses to start with bad configuration, one clear line per bad value', async () => {
    const { output, exited } = runService({ NODE_ENV: 'test', SERVER_PORT: 'eighty', RECORDING_PLAYBACK_STRATEGY: 'FTP' });
    expect(await exited()).toBe(1);
    expect(output()).toContain('Invalid configuration');
    expect(output()).toMatch(/SERVER_PORT: .+\n/);
    expect(output()).toMatch(/RECORDING_PLAYBACK_STRATEGY: .+/);
  });

  it('warns at start when more media streams are let in than the media client has sockets', async () => {
    const service = runService({ NODE_ENV: 'test', SERVER_PORT: '0', MEDIA_MAX_STREAMS: '101', S3_MEDIA_MAX_SOCKETS: '100' });
    try {
      await eventually(() => service.output().includes('MEDIA_MAX_STREAMS (101) is more than S3_MEDIA_MAX_SOCKETS (100)'), {
        what: `the warning (${service.output()})`,
      });
    } finally {
      service.child.kill('SIGKILL');
    }
  });
});

describe('the service process without NODE_ENV, which means production', () => {
  it('refuses development credentials and missing keys, naming every one of them in one message', async () => {
    // A public host given the local stack's settings: LiveKit's and MinIO's well-known keys, none of its own.
    const service = runService({
      SERVER_PORT: '0',
      LIVEKIT_API_KEY: 'devkey',
      LIVEKIT_API_SECRET: 'secret',
      S3_ACCESS_KEY: 'minioadmin',
      S3_SECRET_KEY: 'minioadmin',
      NOTIFY_URLS: 'https://hooks.example.com/recordings',
    });
    try {
      expect(await startOrExit(service)).toBe(1);
      const output = service.output();
      expect(output.match(/Invalid configuration/g)).toHaveLength(1);
      for (const name of [
        'LIVEKIT_API_KEY',
        'LIVEKIT_API_SECRET',
        'S3_SECRET_KEY',
        'ADMIN_API_KEY',
        'MEDIA_URL_SIGNING_KEY',
        'NOTIFY_SIGNING_KEY',
      ]) {
        expect(output).toMatch(new RegExp(`^  ${name}: .+$`, 'm'));
      }
      // How to get the development shortcuts instead.
      expect(output).toContain('NODE_ENV=development');
    } finally {
      service.child.kill('SIGKILL');
    }
  });

  it('refuses a trivial LiveKit secret: a development one, or one shorter than the 32 characters LiveKit asks for', async () => {
    const livekit = { url: 'http://127.0.0.1:9', ...DEPLOYMENT_LIVEKIT_KEYS };
    const s3 = { endpoint: 'http://127.0.0.1:9', bucket: 'unused' };
    for (const secret of ['devkey', 'secret', 'x', 's'.repeat(31)]) {
      const service = runService({ SERVER_PORT: '0', ...deploymentEnv({ ...livekit, apiSecret: secret }, s3) });
      try {
        expect({ secret, outcome: await startOrExit(service) }).toEqual({ secret, outcome: 1 });
        expect(service.output()).toMatch(/^ {2}LIVEKIT_API_SECRET: .+$/m);
        expect(service.output().match(/^ {2}\w+: /gm)).toHaveLength(1);
      } finally {
        service.child.kill('SIGKILL');
      }
    }
  });

  it("starts with a deployment's own keys, and keeps /metrics closed when no METRICS_TOKEN is set", async () => {
    const s3 = await S3TestServer.start();
    const livekit = await LiveKitDouble.start(DEPLOYMENT_LIVEKIT_KEYS);
    const port = await freePort();
    const service = runService({ SERVER_PORT: String(port), ...deploymentEnv(livekit, s3) });
    try {
      await waitReady(service, port);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(401);
      expect(await metrics.text()).not.toContain('recording_manager_');
    } finally {
      service.child.kill('SIGKILL');
      await livekit.close();
      await s3.close();
    }
  });

  it("without S3 keys, reaches S3 with the AWS SDK's default credential chain (an IAM role, or AWS_* variables)", async () => {
    const s3 = await S3TestServer.start();
    const livekit = await LiveKitDouble.start(DEPLOYMENT_LIVEKIT_KEYS);
    const port = await freePort();
    const { S3_ACCESS_KEY, S3_SECRET_KEY, ...withoutS3Keys } = deploymentEnv(livekit, s3);
    // The chain's first source: what an AWS runtime or a secrets manager puts in the environment.
    const service = runService({
      SERVER_PORT: String(port),
      ...withoutS3Keys,
      AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
    });
    try {
      await waitReady(service, port);
      const listing = await fetch(`http://127.0.0.1:${port}/recordings`, { headers: HOST_HEADERS });
      expect(listing.status).toBe(200);
    } finally {
      service.child.kill('SIGKILL');
      await livekit.close();
      await s3.close();
    }
  });
});

describe('the service process with NODE_ENV=development', () => {
  it("runs on the development shortcuts: LiveKit's development keys, no keys of its own, open /metrics", async () => {
    const s3 = await S3TestServer.start();
    // The double's keys are LiveKit's development pair, which the service is not given.
    const livekit = await LiveKitDouble.start();
    const port = await freePort();
    const { ADMIN_API_KEY, ...peers } = peerEnv(livekit, s3);
    const service = runService({ ...peers, NODE_ENV: 'development', SERVER_PORT: String(port), OPEN_ADMISSION: 'true' });
    const base = `http://127.0.0.1:${port}`;
    try {
      await waitReady(service, port);
      const token = await fetch(`${base}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ roomName: 'dev-room', participantName: 'p' }),
      });
      expect(token.status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toContain('recording_manager_');
    } finally {
      service.child.kill('SIGKILL');
      await livekit.close();
      await s3.close();
    }
  });
});
