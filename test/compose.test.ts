/**
 * The local stack (docker-compose.yml, compose/livekit.yaml, compose/egress.yaml) cannot be started
 * here: no Docker engine. These checks read the files and hold them to the facts a user relies on,
 * with every credential, port and name taken from the service's own defaults (loadConfig({})).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../src/config';

type Json = Record<string, unknown>;

const root = join(__dirname, '..');
const readYaml = (file: string): Json => record(parse(readFileSync(join(root, file), 'utf8')), file);

function record(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not a mapping`);
  return value as Json;
}
function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
}
function text(value: unknown, what: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`${what} is not a scalar`);
  return String(value);
}

/** Compose `environment`, as a mapping or as a list of NAME=value. */
function environment(service: Json, name: string): Record<string, string> {
  const raw = service.environment;
  if (raw === undefined) return {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map((entry) => {
      const [key, ...rest] = text(entry, `${name}.environment[]`).split('=');
      return [key, rest.join('=')];
    }));
  }
  return Object.fromEntries(Object.entries(record(raw, `${name}.environment`)).map(([key, value]) => [key, text(value, key)]));
}

/** Compose short port syntax: [host_ip:]host_port:container_port[/protocol]. */
interface PublishedPort { hostIp: string | undefined; host: number; container: number; protocol: string }
function publishedPorts(service: Json, name: string): PublishedPort[] {
  return list(service.ports ?? [], `${name}.ports`).map((entry) => {
    const [mapping, protocol = 'tcp'] = text(entry, `${name}.ports[]`).split('/');
    const parts = mapping.split(':');
    if (parts.length < 2 || parts.length > 3) throw new Error(`${name}: port "${String(entry)}" publishes nothing explicit`);
    const [hostIp, host, container] = parts.length === 3 ? parts : [undefined, ...parts];
    return { hostIp, host: Number(host), container: Number(container), protocol };
  });
}

/** Compose `depends_on` in its long form: service name to condition. */
function dependsOn(service: Json, name: string): Record<string, string> {
  const raw = record(service.depends_on ?? {}, `${name}.depends_on`);
  return Object.fromEntries(Object.entries(raw).map(([dependency, options]) => (
    [dependency, text(record(options, `${name}.depends_on.${dependency}`).condition, `${name}.depends_on.${dependency}.condition`)]
  )));
}

function extraHosts(service: Json, name: string): string[] {
  const raw = service.extra_hosts ?? [];
  if (Array.isArray(raw)) return raw.map((entry) => text(entry, `${name}.extra_hosts[]`).replace('=', ':'));
  return Object.entries(record(raw, `${name}.extra_hosts`)).map(([host, address]) => `${host}:${text(address, host)}`);
}

const defaults = loadConfig({});
const compose = readYaml('docker-compose.yml');
const services = record(compose.services, 'services');
const service = (name: string) => record(services[name], `services.${name}`);
const livekitConfig = readYaml('compose/livekit.yaml');
const egressConfig = readYaml('compose/egress.yaml');
const rtc = record(livekitConfig.rtc, 'livekit rtc');
const egressS3 = record(record(egressConfig.storage, 'egress storage').s3, 'egress storage.s3');

/** The container-side path a bind mount of `file` lands on, so the config a service reads is ours. */
function mountTarget(name: string, file: string): string {
  const mounts = list(service(name).volumes, `${name}.volumes`).map((entry) => text(entry, `${name}.volumes[]`).split(':'));
  const mount = mounts.find(([source]) => source === `./${file}`);
  if (!mount) throw new Error(`${name} does not mount ./${file}`);
  return mount[1];
}

describe('the local Docker stack', () => {
  it('pins every image to an explicit tag', () => {
    for (const [name, value] of Object.entries(services)) {
      const image = text(record(value, name).image, `${name}.image`);
      const tag = image.slice(image.lastIndexOf('/') + 1).split(':')[1];
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^(?!latest$).+/) });
    }
  });

  it('runs livekit-server and egress with the config files in compose/', () => {
    const livekitCommand = list(service('livekit').command, 'livekit.command').map((part) => text(part, 'livekit.command[]'));
    const configFlag = livekitCommand.indexOf('--config');
    expect(configFlag).toBeGreaterThanOrEqual(0);
    expect(livekitCommand[configFlag + 1]).toBe(mountTarget('livekit', 'compose/livekit.yaml'));
    expect(environment(service('egress'), 'egress').EGRESS_CONFIG_FILE).toBe(mountTarget('egress', 'compose/egress.yaml'));
  });

  it('publishes LiveKit on 7880/tcp, 7881/tcp and 7882/udp, the ports its config listens on', () => {
    const ports = publishedPorts(service('livekit'), 'livekit');
    const expected = [
      { port: Number(new URL(defaults.livekit.url).port), protocol: 'tcp' },
      { port: 7881, protocol: 'tcp' },
      { port: 7882, protocol: 'udp' },
    ];
    expect(expected[0].port).toBe(7880);
    for (const { port, protocol } of expected) {
      expect(ports).toContainEqual(expect.objectContaining({ host: port, container: port, protocol }));
    }
    expect(livekitConfig.port).toBe(7880);
    expect(rtc.tcp_port).toBe(7881);
    // A single UDP port: a port range would need the whole range published instead.
    expect(rtc.udp_port).toBe(7882);
    expect(rtc.port_range_start).toBeUndefined();
  });

  it('binds LiveKit to all interfaces in its container and advertises an address the host browser reaches', () => {
    const command = list(service('livekit').command, 'livekit.command').map((part) => text(part, 'livekit.command[]'));
    const bindFlag = command.indexOf('--bind');
    const bindAddresses = bindFlag >= 0 ? [command[bindFlag + 1]] : list(livekitConfig.bind_addresses, 'bind_addresses');
    expect(bindAddresses).toContain('0.0.0.0');
    expect(rtc.use_external_ip).toBe(false);
    expect(rtc.node_ip).toBe('127.0.0.1');
    // The advertised media ports must be published where node_ip points (or on every host interface).
    for (const port of publishedPorts(service('livekit'), 'livekit').filter(({ container }) => container !== 7880)) {
      expect([undefined, '0.0.0.0', rtc.node_ip]).toContain(port.hostIp);
    }
  });

  it('publishes the MinIO S3 API on the port of the service\'s S3_ENDPOINT, and the console on 9001', () => {
    const ports = publishedPorts(service('minio'), 'minio');
    const s3Port = Number(new URL(defaults.s3.endpoint).port);
    expect(s3Port).toBe(9000);
    expect(ports).toContainEqual(expect.objectContaining({ host: s3Port, container: 9000, protocol: 'tcp' }));
    expect(ports).toContainEqual(expect.objectContaining({ host: 9001, container: 9001, protocol: 'tcp' }));
    const command = list(service('minio').command, 'minio.command').map((part) => text(part, 'minio.command[]'));
    expect(command.slice(0, 2)).toEqual(['server', '/data']);
    expect(command[command.indexOf('--console-address') + 1]).toBe(':9001');
  });

  it('gives egress SYS_ADMIN, which its sandboxed Chrome needs', () => {
    expect(list(service('egress').cap_add, 'egress.cap_add')).toContain('SYS_ADMIN');
  });

  it('points livekit-server and egress at the same Redis, the compose one', () => {
    const livekitRedis = text(record(livekitConfig.redis, 'livekit redis').address, 'livekit redis.address');
    const egressRedis = text(record(egressConfig.redis, 'egress redis').address, 'egress redis.address');
    expect(egressRedis).toBe(livekitRedis);
    expect(livekitRedis).toBe('redis:6379');
    expect(Object.keys(services)).toContain('redis');
    expect(dependsOn(service('livekit'), 'livekit').redis).toBe('service_healthy');
    expect(dependsOn(service('egress'), 'egress').redis).toBe('service_healthy');
    expect(record(service('redis').healthcheck, 'redis.healthcheck').test).toBeDefined();
  });

  it('sends webhooks to the service on the host, signed with the key the service verifies with', () => {
    const webhook = record(livekitConfig.webhook, 'webhook');
    expect(list(webhook.urls, 'webhook.urls')).toContain(`http://host.docker.internal:${defaults.port}/livekit/webhook`);
    expect(defaults.port).toBe(6080);
    expect(webhook.api_key).toBe(defaults.livekit.apiKey);
    expect(extraHosts(service('livekit'), 'livekit')).toContain('host.docker.internal:host-gateway');
  });

  it('gives livekit-server the service\'s API key and secret', () => {
    expect(record(livekitConfig.keys, 'keys')).toEqual({ [defaults.livekit.apiKey]: defaults.livekit.apiSecret });
  });

  it('gives egress the same key pair and the compose LiveKit address', () => {
    expect(egressConfig.api_key).toBe(defaults.livekit.apiKey);
    expect(egressConfig.api_secret).toBe(defaults.livekit.apiSecret);
    const wsUrl = new URL(text(egressConfig.ws_url, 'egress ws_url'));
    expect(wsUrl.protocol).toBe('ws:');
    expect(wsUrl.hostname).toBe('livekit');
    expect(Number(wsUrl.port)).toBe(livekitConfig.port);
  });

  it('runs MinIO with the service\'s S3 credentials, healthchecked', () => {
    const env = environment(service('minio'), 'minio');
    expect(env.MINIO_ROOT_USER).toBe(defaults.s3.accessKey);
    expect(env.MINIO_ROOT_PASSWORD).toBe(defaults.s3.secretKey);
    expect(record(service('minio').healthcheck, 'minio.healthcheck').test).toBeDefined();
  });

  it('gives egress a default S3 upload to MinIO that agrees with what the service sends', () => {
    // The service sends EGRESS_S3_ENDPOINT with every request; the README runs it with http://minio:9000.
    const asRun = loadConfig({ EGRESS_S3_ENDPOINT: 'http://minio:9000' }).s3;
    expect(egressS3).toEqual({
      access_key: defaults.s3.accessKey,
      secret: defaults.s3.secretKey,
      region: defaults.s3.region,
      endpoint: asRun.egressEndpoint,
      bucket: defaults.s3.bucket,
      force_path_style: true,
    });
    const endpoint = new URL(asRun.egressEndpoint);
    expect(Object.keys(services)).toContain(endpoint.hostname);
    expect(publishedPorts(service(endpoint.hostname), endpoint.hostname).map(({ container }) => container)).toContain(Number(endpoint.port));
  });

  it('creates the service\'s bucket once MinIO is healthy, idempotently, before egress starts', () => {
    const init = service('minio-init');
    expect(dependsOn(init, 'minio-init').minio).toBe('service_healthy');
    expect(dependsOn(service('egress'), 'egress')['minio-init']).toBe('service_completed_successfully');
    expect(text(init.restart, 'minio-init.restart')).toBe('no');
    expect(text(init.image, 'minio-init.image')).toMatch(/(^|\/)minio\/mc:/);

    // mc with MC_HOST_<alias>=http://<user>:<password>@<host>:<port>, then `mb --ignore-existing <alias>/<bucket>`.
    const command = list(init.command, 'minio-init.command').map((part) => text(part, 'minio-init.command[]'));
    expect(command[0]).toBe('mb');
    expect(command).toContain('--ignore-existing');
    const target = command[command.length - 1];
    const [alias, bucket] = target.split('/');
    expect(bucket).toBe(defaults.s3.bucket);
    const host = new URL(environment(init, 'minio-init')[`MC_HOST_${alias}`]);
    expect(decodeURIComponent(host.username)).toBe(defaults.s3.accessKey);
    expect(decodeURIComponent(host.password)).toBe(defaults.s3.secretKey);
    expect(`${host.protocol}//${host.host}`).toBe(text(egressS3.endpoint, 'egress storage.s3.endpoint'));
  });
});
