import { ConfigError, configWarnings, loadConfig } from '../src/config';
import { LIVEKIT_HANDLER_SEARCH } from './support/livekit-double';

describe('configuration', () => {
  it("has the reference's names and defaults", () => {
    const config = loadConfig({ NODE_ENV: 'test' });
    expect(config).toMatchObject({
      port: 6080,
      livekit: { url: 'http://localhost:7880', publicUrl: 'ws://localhost:7880', apiKey: 'devkey', apiSecret: 'secret' },
      s3: { endpoint: 'http://localhost:9000', egressEndpoint: 'http://localhost:9000', bucket: 'openvidu-appdata', region: 'us-east-1' },
      recordings: { path: 'recordings/', playbackStrategy: 'S3', urlTtlMs: 3_600_000 },
    });
  });

  it('waits on StopEgress and UpdateStream longer than LiveKit may take to give up on an egress handler', () => {
    const { egressTimeoutMs } = loadConfig({ NODE_ENV: 'test' }).livekit;
    expect(egressTimeoutMs).toBe(20_000);
    expect(egressTimeoutMs).toBeGreaterThan(LIVEKIT_HANDLER_SEARCH.unansweredMs);
    expect(loadConfig({ NODE_ENV: 'test', LIVEKIT_EGRESS_TIMEOUT: '30s' }).livekit.egressTimeoutMs).toBe(30_000);
  });

  it('reads durations with units and normalises the key prefix', () => {
    const config = loadConfig({ NODE_ENV: 'test', RECORDING_URL_TTL: '90s', WEBHOOK_TIMEOUT: '500ms', S3_PREFIX: '/media/rec' });
    expect(config.recordings).toMatchObject({ urlTtlMs: 90_000, path: 'media/rec/' });
    expect(config.webhookTimeoutMs).toBe(500);
  });

  it('keeps every object under S3_PREFIX, with RECORDINGS_PATH (its former name) still read, and refuses the two when they differ', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).recordings.path).toBe('recordings/');
    expect(loadConfig({ NODE_ENV: 'test', S3_PREFIX: 'state/rm' }).recordings.path).toBe('state/rm/');
    expect(loadConfig({ NODE_ENV: 'test', S3_PREFIX: '' }).recordings.path).toBe('');
    expect(loadConfig({ NODE_ENV: 'test', RECORDINGS_PATH: 'old/place/' }).recordings.path).toBe('old/place/');
    expect(loadConfig({ NODE_ENV: 'test', S3_PREFIX: 'same/', RECORDINGS_PATH: 'same' }).recordings.path).toBe('same/');
    expect(() => loadConfig({ NODE_ENV: 'test', S3_PREFIX: 'new/', RECORDINGS_PATH: 'old/' })).toThrow(
      'S3_PREFIX: differs from RECORDINGS_PATH, its former name (set only S3_PREFIX)',
    );
  });

  it('fails with one clear line per bad value', () => {
    let error: unknown;
    try {
      loadConfig({
        NODE_ENV: 'test',
        SERVER_PORT: 'eighty',
        RECORDING_PLAYBACK_STRATEGY: 'FTP',
        LIVEKIT_URL: 'not a url',
        S3_PREFIX: 'a/../b',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.map((line) => line.split(':')[0]).sort()).toEqual([
      'LIVEKIT_URL',
      'RECORDING_PLAYBACK_STRATEGY',
      'S3_PREFIX',
      'SERVER_PORT',
    ]);
  });

  it('warns of more media streams than the media client has sockets, and not of as many', () => {
    expect(configWarnings(loadConfig({ NODE_ENV: 'test', MEDIA_MAX_STREAMS: '60', S3_MEDIA_MAX_SOCKETS: '59' }))).toEqual([
      'MEDIA_MAX_STREAMS (60) is more than S3_MEDIA_MAX_SOCKETS (59): streams beyond the pool wait for a socket',
    ]);
    expect(configWarnings(loadConfig({ NODE_ENV: 'test', MEDIA_MAX_STREAMS: '60', S3_MEDIA_MAX_SOCKETS: '60' }))).toEqual([]);
  });

  it('reads the security settings: permissions per role, origins, open admission', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      PARTICIPANT_PERMISSIONS: 'list, PLAY,record',
      MODERATOR_PERMISSIONS: 'none',
      CORS_ORIGINS: 'https://a.example, http://b.example:8080',
      OPEN_ADMISSION: 'true',
    });
    expect(config.security.permissions).toEqual({ participant: ['list', 'play', 'record'], moderator: [] });
    expect(config.security.corsOrigins).toEqual(['https://a.example', 'http://b.example:8080']);
    expect(config.security.openAdmission).toBe(true);
    expect(loadConfig({ NODE_ENV: 'test' }).security).toMatchObject({
      openAdmission: false,
      corsOrigins: [],
      permissions: { participant: ['list', 'play'] },
    });
    expect(() => loadConfig({ NODE_ENV: 'test', PARTICIPANT_PERMISSIONS: 'list,fly' })).toThrow(/unknown permission fly/);
    expect(() => loadConfig({ NODE_ENV: 'test', CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS/);
  });

  /** The settings a refusal names, in its order. */
  const refusedSettings = (env: Record<string, string>) => {
    try {
      loadConfig(env);
      return [];
    } catch (error) {
      return (error as ConfigError).problems.map((line) => line.split(':')[0]);
    }
  };
  const DEPLOYMENT_KEYS = {
    LIVEKIT_API_KEY: 'APIdeploymentkey',
    LIVEKIT_API_SECRET: 'a-real-secret-of-the-deployment-of-32-or-more',
    ADMIN_API_KEY: 'k'.repeat(32),
    MEDIA_URL_SIGNING_KEY: 'm'.repeat(32),
  };

  it('is production unless NODE_ENV is exactly development or test', () => {
    const missing = ['LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'ADMIN_API_KEY', 'MEDIA_URL_SIGNING_KEY'];
    for (const mode of [undefined, '', 'production', 'staging', 'Development', 'dev']) {
      expect({ mode, refused: refusedSettings(mode === undefined ? {} : { NODE_ENV: mode }) }).toEqual({ mode, refused: missing });
    }
    expect(loadConfig({ NODE_ENV: 'staging', ...DEPLOYMENT_KEYS }).env).toBe('production');
    expect(loadConfig({ NODE_ENV: 'development' }).env).toBe('development');
    expect(loadConfig({ NODE_ENV: 'test' }).env).toBe('test');
  });

  it('names bad values and missing production keys in the same refusal', () => {
    expect(refusedSettings({ SERVER_PORT: 'eighty', ADMIN_API_KEY: 'short' })).toEqual([
      'SERVER_PORT',
      'ADMIN_API_KEY',
      'LIVEKIT_API_KEY',
      'LIVEKIT_API_SECRET',
      'MEDIA_URL_SIGNING_KEY',
    ]);
  });

  it("refuses in production LiveKit's development keys and MinIO's default secret, and S3 keys given by halves", () => {
    expect(refusedSettings({ ...DEPLOYMENT_KEYS, LIVEKIT_API_KEY: 'devkey', LIVEKIT_API_SECRET: 'secret' })).toEqual([
      'LIVEKIT_API_KEY',
      'LIVEKIT_API_SECRET',
    ]);
    for (const trivial of ['devkey', 'secret', 'x', 'x'.repeat(31)]) {
      expect({ trivial, refused: refusedSettings({ ...DEPLOYMENT_KEYS, LIVEKIT_API_SECRET: trivial }) }).toEqual({
        trivial,
        refused: ['LIVEKIT_API_SECRET'],
      });
    }
    expect(refusedSettings({ ...DEPLOYMENT_KEYS, S3_ACCESS_KEY: 'minioadmin', S3_SECRET_KEY: 'minioadmin' })).toEqual(['S3_SECRET_KEY']);
    expect(refusedSettings({ ...DEPLOYMENT_KEYS, S3_ACCESS_KEY: 'AKIAEXAMPLE' })).toEqual(['S3_SECRET_KEY']);
    expect(refusedSettings({ ...DEPLOYMENT_KEYS, NOTIFY_URLS: 'https://hooks.example.com' })).toEqual(['NOTIFY_SIGNING_KEY']);
    expect(refusedSettings({ ...DEPLOYMENT_KEYS, NOTIFY_URLS: 'https://hooks.example.com', NOTIFY_SIGNING_KEY: 'n'.repeat(32) })).toEqual(
      [],
    );
  });

  it('takes development credentials and derived signing keys only in development and test', () => {
    const production = loadConfig(DEPLOYMENT_KEYS);
    // No S3 key: the AWS SDK's default credential chain (an IAM role), not MinIO's.
    expect(production.s3).toMatchObject({ accessKey: undefined, secretKey: undefined });
    expect(production.security.mediaUrlKey).toBe(DEPLOYMENT_KEYS.MEDIA_URL_SIGNING_KEY);
    for (const mode of ['development', 'test']) {
      const config = loadConfig({ NODE_ENV: mode });
      expect(config.livekit).toMatchObject({ apiKey: 'devkey', apiSecret: 'secret' });
      expect(config.s3).toMatchObject({ accessKey: 'minioadmin', secretKey: 'minioadmin' });
      // Derived from the LiveKit secret, so every instance of a development stack agrees without a setting.
      expect(config.security.mediaUrlKey).toBe(loadConfig({ NODE_ENV: mode === 'test' ? 'development' : 'test' }).security.mediaUrlKey);
      expect(config.security.mediaUrlKey).not.toBe(
        loadConfig({ NODE_ENV: mode, LIVEKIT_API_SECRET: 'another-secret' }).security.mediaUrlKey,
      );
      expect(config.notifications.signingKey).toHaveLength(43);
    }
  });
});
