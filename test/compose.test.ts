/**
 * The local stack (docker-compose.yml, compose/livekit.yaml, compose/egress.yaml, and
 * compose/service-on-host.yaml over it) cannot be started here: no Docker engine. These checks read
 * the files and hold them to the facts a user relies on, with every credential, port and name taken
 * from the service's own development defaults (NODE_ENV=development, as `npm run dev` runs it on the
 * host beside the stack). The service's image: test/dockerfile.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { envSchema, loadConfig } from '../src/config';
import { webhookController } from '../src/controllers/webhook.controller';
import type { Services } from '../src/services';
import { parseDockerfile } from './support/dockerfile';
import { EGRESS_DEFAULT_COSTS, EGRESS_DEFAULT_MAX_CPU_UTILIZATION, egressAdmits } from './support/egress-admission';

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
    return Object.fromEntries(
      raw.map((entry) => {
        const [key, ...rest] = text(entry, `${name}.environment[]`).split('=');
        return [key, rest.join('=')];
      }),
    );
  }
  return Object.fromEntries(Object.entries(record(raw, `${name}.environment`)).map(([key, value]) => [key, text(value, key)]));
}

/** Compose short port syntax: [host_ip:]host_port:container_port[/protocol]. */
interface PublishedPort {
  hostIp: string | undefined;
  host: number;
  container: number;
  protocol: string;
}
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
  return Object.fromEntries(
    Object.entries(raw).map(([dependency, options]) => [
      dependency,
      text(record(options, `${name}.depends_on.${dependency}`).condition, `${name}.depends_on.${dependency}.condition`),
    ]),
  );
}

function extraHosts(service: Json, name: string): string[] {
  const raw = service.extra_hosts ?? [];
  if (Array.isArray(raw)) return raw.map((entry) => text(entry, `${name}.extra_hosts[]`).replace('=', ':'));
  return Object.entries(record(raw, `${name}.extra_hosts`)).map(([host, address]) => `${host}:${text(address, host)}`);
}

const defaults = loadConfig({ NODE_ENV: 'development' });
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
    // The one service built here (from ./Dockerfile, whose base images the Dockerfile test checks) has no image.
    for (const [name, value] of Object.entries(services).filter(([, value]) => record(value, 'service').build === undefined)) {
      const image = text(record(value, name).image, `${name}.image`);
      const tag = image.slice(image.lastIndexOf('/') + 1).split(':')[1];
      expect({ name, tag }).toEqual({ name, tag: expect.stringMatching(/^(?!latest$).+/) as unknown });
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

  it("publishes the MinIO S3 API on the port of the service's S3_ENDPOINT, and the console on 9001", () => {
    const ports = publishedPorts(service('minio'), 'minio');
    const s3Port = Number(new URL(defaults.s3.endpoint).port);
    expect(s3Port).toBe(9000);
    expect(ports).toContainEqual(expect.objectContaining({ host: s3Port, container: 9000, protocol: 'tcp' }));
    expect(ports).toContainEqual(expect.objectContaining({ host: 9001, container: 9001, protocol: 'tcp' }));
    const command = list(service('minio').command, 'minio.command').map((part) => text(part, 'minio.command[]'));
    expect(command.slice(0, 2)).toEqual(['server', '/data']);
    expect(command[command.indexOf('--console-address') + 1]).toBe(':9001');
  });

  it('runs egress with no added capability or privilege: its Chrome runs without the sandbox', () => {
    // livekit/egress@805884c3e65e1583277f93ae616d3bf0dfd35564 pkg/pipeline/source/web.go:269 starts Chrome with
    // --no-sandbox unless enable_chrome_sandbox (pkg/config/base.go:45, false when unset); the sandbox's route
    // is a seccomp profile (chrome-sandboxing-seccomp-profile.json, README.md:202-219), not a capability.
    expect(egressConfig.enable_chrome_sandbox ?? false).toBe(false);
    expect(service('egress').cap_add).toBeUndefined();
    expect(service('egress').privileged ?? false).toBe(false);
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

  it('binds every published port to 127.0.0.1', () => {
    for (const [name, value] of Object.entries(services)) {
      for (const port of publishedPorts(record(value, name), name))
        expect({ name, hostIp: port.hostIp }).toEqual({ name, hostIp: '127.0.0.1' });
    }
  });

  it("sends webhooks to the service's container, on the port and path it serves them, signed with the key it verifies with", () => {
    const webhook = record(livekitConfig.webhook, 'webhook');
    const urls = list(webhook.urls, 'webhook.urls').map((url) => new URL(text(url, 'webhook.urls[]')));
    expect(urls).toHaveLength(1);
    const [url] = urls;
    expect(url.protocol).toBe('http:');
    expect(url.hostname).toBe(SERVICE);
    // The port the service listens on as the stack configures it (inside the network, not the published one).
    expect(Number(url.port)).toBe(loadConfig(environment(service(SERVICE), SERVICE)).port);
    expect(defaults.port).toBe(6080);
    expect(webhookRoutes()).toContainEqual({ path: url.pathname, method: 'post' });
    expect(webhook.api_key).toBe(defaults.livekit.apiKey);
    // The name must resolve to the container (compose DNS), not be pinned elsewhere by /etc/hosts.
    expect(extraHosts(service('livekit'), 'livekit').filter((entry) => entry.startsWith(`${SERVICE}:`))).toEqual([]);
  });

  it("gives livekit-server the service's API key and secret", () => {
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

  it("runs MinIO with the service's S3 credentials, healthchecked", () => {
    const env = environment(service('minio'), 'minio');
    expect(env.MINIO_ROOT_USER).toBe(defaults.s3.accessKey);
    expect(env.MINIO_ROOT_PASSWORD).toBe(defaults.s3.secretKey);
    expect(record(service('minio').healthcheck, 'minio.healthcheck').test).toBeDefined();
  });

  it('gives egress a default S3 upload to MinIO that agrees with what the service sends', () => {
    // The service sends EGRESS_S3_ENDPOINT with every request; the README runs it with http://minio:9000.
    const asRun = loadConfig({ NODE_ENV: 'development', EGRESS_S3_ENDPOINT: 'http://minio:9000' }).s3;
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
    expect(publishedPorts(service(endpoint.hostname), endpoint.hostname).map(({ container }) => container)).toContain(
      Number(endpoint.port),
    );
  });

  it("creates the service's bucket once MinIO is healthy, idempotently, before egress starts", () => {
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

const SERVICE = 'recording-manager';

/** The paths and methods the service's webhook controller serves (Express's route table). */
function webhookRoutes(): { path: string; method: string }[] {
  // Building the router only registers routes; services are used when a request arrives.
  const router = webhookController({} as Services) as unknown as {
    stack: { route?: { path: string; methods: Record<string, boolean> } }[];
  };
  return router.stack.flatMap(({ route }) => (route ? Object.keys(route.methods).map((method) => ({ path: route.path, method })) : []));
}

describe('the service in the local stack', () => {
  const manager = service(SERVICE);
  const env = environment(manager, SERVICE);
  const config = loadConfig(env);
  const livekitPorts = publishedPorts(service('livekit'), 'livekit');
  const minioPorts = publishedPorts(service('minio'), 'minio');

  it("is built from the repository's Dockerfile", () => {
    expect(manager.build).toBe('.');
    expect(existsSync(join(root, 'Dockerfile'))).toBe(true);
  });

  it("sets only variables the service reads, with values it accepts, in development with the stack's keys", () => {
    const known = Object.keys(envSchema.shape);
    for (const name of Object.keys(env)) expect(known).toContain(name);
    // Unset would be production, which refuses the development keys the whole stack uses.
    expect(env.NODE_ENV).toBe('development');
    // Its own keys, stated beside the others' rather than taken from the service's defaults.
    for (const name of ['LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'])
      expect(Object.keys(env)).toContain(name);
  });

  it('reaches LiveKit, MinIO and Redis by their compose service names and container ports', () => {
    const livekitUrl = new URL(config.livekit.url);
    expect(livekitUrl.protocol).toBe('http:');
    expect(livekitUrl.hostname).toBe('livekit');
    expect(Number(livekitUrl.port)).toBe(livekitConfig.port);

    const s3 = new URL(config.s3.endpoint);
    expect(s3.hostname).toBe('minio');
    expect(minioPorts.map(({ container }) => container)).toContain(Number(s3.port));
    // What the service tells egress is what egress's own config says.
    expect(config.s3.egressEndpoint).toBe(text(egressS3.endpoint, 'egress storage.s3.endpoint'));

    expect(config.redis).toBeDefined();
    const redis = new URL(config.redis!.url);
    expect(redis.hostname).toBe('redis');
    // redis-server's default port; the redis service does not change it.
    expect(Number(redis.port || 6379)).toBe(6379);
    expect(service('redis').command).toBeUndefined();
  });

  it('gives the browser on the host LiveKit and MinIO at their published ports, as when the service runs on the host', () => {
    expect(config.livekit.publicUrl).toBe(defaults.livekit.publicUrl);
    expect(config.s3.publicEndpoint).toBe(defaults.s3.endpoint);
    const livekitPublic = new URL(config.livekit.publicUrl);
    expect(livekitPublic.protocol).toBe('ws:');
    expect(livekitPorts).toContainEqual(expect.objectContaining({ host: Number(livekitPublic.port), container: livekitConfig.port }));
    expect(minioPorts).toContainEqual(expect.objectContaining({ host: Number(new URL(config.s3.publicEndpoint).port), container: 9000 }));
  });

  it("uses the keys, credentials and bucket the rest of the stack has (the service's development defaults)", () => {
    expect(config.livekit.apiKey).toBe(defaults.livekit.apiKey);
    expect(config.livekit.apiSecret).toBe(defaults.livekit.apiSecret);
    expect(config.s3.accessKey).toBe(environment(service('minio'), 'minio').MINIO_ROOT_USER);
    expect(config.s3.secretKey).toBe(environment(service('minio'), 'minio').MINIO_ROOT_PASSWORD);
    expect(config.s3.bucket).toBe(egressS3.bucket);
  });

  it('starts once LiveKit and Redis are healthy and the bucket exists', () => {
    expect(dependsOn(manager, SERVICE)).toEqual({
      livekit: 'service_healthy',
      redis: 'service_healthy',
      'minio-init': 'service_completed_successfully',
    });
  });

  it('publishes its port on 127.0.0.1 only, the port it listens on', () => {
    expect(config.port).toBe(defaults.port);
    expect(publishedPorts(manager, SERVICE)).toEqual([{ hostIp: '127.0.0.1', host: config.port, container: config.port, protocol: 'tcp' }]);
  });

  it("keeps the image's HEALTHCHECK (GET /healthz) and stops within its shutdown time", () => {
    // No healthcheck here means the image's; one that is disabled or replaced would hide it.
    expect(manager.healthcheck).toBeUndefined();
    const runtime = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8')).at(-1)!;
    expect(runtime.healthcheck?.command.join(' ')).toContain('/healthz');
    // docker stop sends SIGTERM, then SIGKILL after the grace period: leave the service its SHUTDOWN_TIMEOUT.
    expect(durationMs(text(manager.stop_grace_period, `${SERVICE}.stop_grace_period`))).toBeGreaterThan(config.shutdownTimeoutMs);
  });
});

describe('compose/service-on-host.yaml (the service on the host instead)', () => {
  const override = readYaml('compose/service-on-host.yaml');
  const overridden = record(override.services, 'override services');
  const webhookHost = new URL(text(list(record(livekitConfig.webhook, 'webhook').urls, 'webhook.urls')[0], 'webhook url')).hostname;

  it('overrides the same project and only services it has', () => {
    expect(override.name).toBe(compose.name);
    for (const name of Object.keys(overridden)) expect(Object.keys(services)).toContain(name);
  });

  it("leaves the service's container out of a plain `up`, which nothing else waits for", () => {
    const profiles = list(record(overridden[SERVICE], SERVICE).profiles, `${SERVICE}.profiles`);
    expect(profiles.length).toBeGreaterThan(0);
    expect(record(services[SERVICE], SERVICE).profiles).toBeUndefined();
    for (const [name, value] of Object.entries(services)) expect(Object.keys(dependsOn(record(value, name), name))).not.toContain(SERVICE);
  });

  it("sends LiveKit's webhooks to the host, where `npm run dev` listens on the same port", () => {
    expect(extraHosts(record(overridden.livekit, 'livekit'), 'livekit')).toContain(`${webhookHost}:host-gateway`);
    expect(webhookHost).toBe(SERVICE);
    // The README's host command runs with the development defaults, so on the port the webhook URL names.
    expect(defaults.port).toBe(loadConfig(environment(service(SERVICE), SERVICE)).port);
  });

  it("has `npm run dev` run the service in development, whose defaults are the stack's keys (checked above)", () => {
    const scripts = record((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Json).scripts, 'package.json scripts');
    expect(text(scripts.dev, 'scripts.dev')).toMatch(/(^|\s)NODE_ENV=development node dist\/index\.js$/);
    // `npm start` is production: it sets no NODE_ENV.
    expect(text(scripts.start, 'scripts.start')).not.toContain('NODE_ENV');
  });
});

/** A compose duration: 15s, 1m30s, 500ms. */
function durationMs(value: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.map(([part]) => part).join('') !== value) throw new Error(`"${value}" is not a duration`);
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * units[unit], 0);
}

/* Egress's admission (cited there): test/support/egress-admission.ts. Unverified on an engine: no Docker engine runs here. */

/** The keys of `cpu_cost` egress reads (CPUCostConfig): livekit/egress@805884c pkg/config/service.go:88-107. */
const EGRESS_CPU_COST_KEYS = [
  'max_cpu_utilization',
  'max_memory',
  'memory_cost',
  'room_composite_cpu_cost',
  'audio_room_composite_cpu_cost',
  'sdk_audio_room_composite_cpu_cost',
  'sdk_audio_room_composite_memory_cost',
  'web_cpu_cost',
  'audio_web_cpu_cost',
  'participant_cpu_cost',
  'track_composite_cpu_cost',
  'track_cpu_cost',
  'max_pulse_clients',
  'memory_source',
  'memory_kill_grace_sec',
  'cpu_kill_grace_sec',
];

interface EgressCosts {
  costs: Record<string, number>;
  maxCpuUtilization: number;
}

/** The costs egress runs with, given compose/egress.yaml's `cpu_cost`. */
function egressCosts(cpuCost: Json): EgressCosts {
  const value = (key: string) => Number(cpuCost[key] ?? 0);
  const costs = Object.fromEntries(
    Object.entries(EGRESS_DEFAULT_COSTS).map(([key, fallback]) => [key, value(key) > 0 ? value(key) : fallback]),
  );
  const utilization = value('max_cpu_utilization');
  return { costs, maxCpuUtilization: utilization > 0 && utilization <= 1 ? utilization : EGRESS_DEFAULT_MAX_CPU_UTILIZATION };
}

/** Whether egress admits a request of cost `required` beside `running` (egressAdmits) with these costs. */
const admits = (cores: number, { maxCpuUtilization }: EgressCosts, running: number[], required: number) =>
  egressAdmits(cores, maxCpuUtilization, running, required);

describe("egress's admission on the local stack (egress's cost table and rule; unverified on an engine)", () => {
  const cpuCost = record(egressConfig.cpu_cost ?? {}, 'egress cpu_cost');
  const configured = egressCosts(cpuCost);
  // The service's recordings and its streams are both room composites with video (src/services/egress/egress.service.ts).
  const roomComposite = configured.costs.room_composite_cpu_cost;

  it('sets only cost keys egress reads, each positive (egress takes 0 or less as its default)', () => {
    for (const [key, value] of Object.entries(cpuCost)) {
      expect(EGRESS_CPU_COST_KEYS).toContain(key);
      expect({ key, positive: Number(value) > 0 }).toEqual({ key, positive: true });
    }
  });

  it('admits a recording and a stream at once on 4 cores, and not a third room composite', () => {
    expect(admits(4, configured, [], roomComposite)).toBe(true);
    expect(admits(4, configured, [roomComposite], roomComposite)).toBe(true);
    // What is left stays LiveKit's, Redis's, MinIO's and the service's.
    expect(admits(4, configured, [roomComposite, roomComposite], roomComposite)).toBe(false);
  });

  it('records one at a time on 2 cores', () => {
    expect(admits(2, configured, [], roomComposite)).toBe(true);
    expect(admits(2, configured, [roomComposite], roomComposite)).toBe(false);
  });

  it("holds egress's stock table, which would record one at a time on 4 cores and not at all on 2", () => {
    const stock = egressCosts({});
    expect(admits(4, stock, [], stock.costs.room_composite_cpu_cost)).toBe(true);
    expect(admits(4, stock, [stock.costs.room_composite_cpu_cost], stock.costs.room_composite_cpu_cost)).toBe(false);
    expect(admits(2, stock, [], stock.costs.room_composite_cpu_cost)).toBe(false);
  });
});
