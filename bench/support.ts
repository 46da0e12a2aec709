import { readFileSync } from 'node:fs';
import os from 'node:os';
import {
  EgressInfo,
  EgressStatus,
  EncodedFileOutput,
  FileInfo,
  RoomCompositeEgressRequest,
  S3Upload,
  WebhookEvent,
} from '@livekit/protocol';
import { OWNER_METADATA_KEY, ROOM_METADATA_KEY } from '../src/services/egress/egress.service';
import { LiveKitDouble } from '../test/support/livekit-double';
import { S3FaultProxy } from '../test/support/s3-fault-proxy';
import { S3TestServer } from '../test/support/s3-server';
import {
  DEPLOYMENT_LIVEKIT_KEYS,
  deploymentEnv,
  freePort,
  runService,
  type ServiceProcess,
  waitReady,
} from '../test/support/service-process';

export const APP_NAME = 'recording-manager';

/** s3rver, the counting proxy in front of it, and the LiveKit double: the service's peers on loopback. */
export interface Peers {
  s3: S3TestServer;
  proxy: S3FaultProxy;
  livekit: LiveKitDouble;
}

export async function startPeers(): Promise<Peers> {
  const s3 = await S3TestServer.start();
  const proxy = await S3FaultProxy.start(s3.endpoint);
  // A deployment's key pair: the service runs in production, as deployed (startService).
  const livekit = await LiveKitDouble.start(DEPLOYMENT_LIVEKIT_KEYS);
  return { s3, proxy, livekit };
}

export interface RunningService {
  url: string;
  process: ServiceProcess;
  stop(): Promise<void>;
}

/**
 * The compiled service in its own process, started cold. `direct` points it at s3rver itself instead of
 * the counting proxy (for the streaming comparison, where the proxy would only add a hop).
 */
export async function startService(peers: Peers, options: { direct?: boolean } = {}): Promise<RunningService> {
  const port = await freePort();
  const service = runService({
    SERVER_PORT: String(port),
    // Production with its own keys, as deployed: what is measured is what runs.
    NODE_ENV: 'production',
    ...deploymentEnv(peers.livekit, peers.s3, options.direct ? peers.s3.endpoint : peers.proxy.endpoint),
    EGRESS_S3_ENDPOINT: peers.s3.endpoint,
    RECONCILE_INTERVAL: '0', // its passes would mix background requests into the counts
    LOG_LEVEL: 'warn',
    // Its 16 concurrent readers would exactly fill the default per-address cap, so a slot whose
    // 'close' has not fired yet after an earlier read would answer 429 and abort the run.
    MEDIA_MAX_STREAMS_PER_CLIENT: '32',
    NODE_OPTIONS: '--openssl-legacy-provider',
  });
  await waitReady(service, port);
  const url = `http://127.0.0.1:${port}`;
  peers.livekit.webhookUrls = [`${url}/livekit/webhook`];
  return {
    url,
    process: service,
    async stop() {
      service.child.kill('SIGTERM');
      await service.exited();
    },
  };
}

/** What LiveKit reports for one of our room-composite MP4 recordings, at a given point of its life. */
export function egressInfo(options: {
  index: number;
  roomName: string;
  startedAt: number;
  status: EgressStatus;
  bucket: string;
  size?: number;
  filename?: string;
}): EgressInfo {
  const { index, roomName, startedAt, status, bucket } = options;
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  const ended = status === EgressStatus.EGRESS_COMPLETE;
  const filename = options.filename ?? `recordings/${roomName}-RM_${roomName}-${index}.mp4`;
  const upload = new S3Upload({ bucket, metadata: { [OWNER_METADATA_KEY]: APP_NAME, [ROOM_METADATA_KEY]: encodeURIComponent(roomName) } });
  return new EgressInfo({
    egressId: `EG_bench${String(index).padStart(8, '0')}`,
    roomId: `RM_${roomName}`,
    roomName,
    status,
    startedAt: ns(startedAt),
    endedAt: ended ? ns(startedAt + 60_000) : 0n,
    updatedAt: ns(startedAt + (ended ? 60_000 : 0)),
    request: {
      case: 'roomComposite',
      value: new RoomCompositeEgressRequest({
        roomName,
        fileOutputs: [new EncodedFileOutput({ filepath: filename, output: { case: 's3', value: upload } })],
      }),
    },
    fileResults: [new FileInfo({ filename, size: BigInt(ended ? (options.size ?? 1000) : 0), duration: ended ? ns(60_000) : 0n })],
  });
}

let eventCounter = 0;
export function egressEvent(event: 'egress_started' | 'egress_ended', info: EgressInfo): WebhookEvent {
  return new WebhookEvent({ event, id: `EV_bench${++eventCounter}`, egressInfo: info, createdAt: BigInt(Math.floor(Date.now() / 1000)) });
}

/** Runs `work(i)` for i in [0, count) with `concurrency` in flight. */
export async function pool(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

export const median = (values: number[]) => quantile(values, 0.5);

export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { ms: Number(process.hrtime.bigint() - start) / 1e6, value };
}

/** CPU time (user + system) a process has used so far, in ms (from /proc, in clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Peak resident set of a process (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.type()} ${os.release()}`;
}
