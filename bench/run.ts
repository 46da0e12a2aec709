/**
 * `npm run bench`: the real service in its own process against s3rver and the LiveKit double on
 * loopback. S3 requests are counted at the wire by a proxy between the service and s3rver. Writes
 * bench/results.md.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { EgressStatus } from '@livekit/protocol';
import {
  egressEvent,
  egressInfo,
  cpuMs,
  machine,
  median,
  peakRssMiB,
  type Peers,
  pool,
  quantile,
  type RunningService,
  startPeers,
  startService,
  timed,
} from './support';
import { indexScopePrefix } from '../src/services/storage/recording-index';
import { HOST_HEADERS } from '../test/support/service-process';

const LIST_SIZES = (process.env.BENCH_LIST_SIZES ?? '1000,10000').split(',').map(Number);
const ALL_SECTIONS = ['list', 'webhooks', 'stream'];
const SECTIONS = ALL_SECTIONS.filter((section) => (process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join()).split(',').includes(section));
const LIST_RUNS = 30;
const WEBHOOK_EVENTS = Number(process.env.BENCH_WEBHOOK_EVENTS ?? 1000);
const WEBHOOK_ROUNDS = 5;
const STREAM_BYTES = Number(process.env.BENCH_STREAM_MIB ?? 200) * 1024 * 1024;
const STREAM_RUNS = 7;
const READERS = 16;
const YEAR_MS = 365 * 24 * 3600 * 1000;
const NOW = Date.now();
/** What a seeded recording's media holds (the size `egressInfo` reports). */
const MEDIA = randomBytes(1000);

const lines: string[] = [];
const report = (line = '') => {
  lines.push(line);
  console.log(line);
};
const fixed = (value: number, digits = 1) => value.toFixed(digits);

async function send(peers: Peers, event: ReturnType<typeof egressEvent>) {
  const status = await peers.livekit.sendWebhook(event);
  if (status !== 200) throw new Error(`webhook answered ${status}`);
}

/** Recording i: rooms of 100 consecutive recordings (or one room each), start times spread over the past year. */
function recordingAt(peers: Peers, i: number, status: EgressStatus, roomName = `room-${Math.floor(i / 100)}`) {
  const spread = ((i * 7_919) % 1_000_003) / 1_000_003;
  return egressInfo({ index: i, roomName, startedAt: NOW - Math.floor(spread * YEAR_MS), status, bucket: peers.s3.bucket });
}

/**
 * As egress does: the media is uploaded, then `egress_ended` arrives. Taken room by room in turn, as
 * events of one room are applied one at a time.
 */
async function seed(peers: Peers, from: number, to: number) {
  const client = peers.s3.client();
  const rooms = Math.ceil((to - from) / 100);
  await pool(to - from, 16, async (k) => {
    const info = recordingAt(peers, from + (k % rooms) * 100 + Math.floor(k / rooms), EgressStatus.EGRESS_COMPLETE);
    await client.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: info.fileResults[0].filename, Body: MEDIA }));
    await send(peers, egressEvent('egress_ended', info));
  });
}

/** Latency of one page, and the S3 requests it cost, cold (first request of a fresh process) and warm. */
async function measurePage(peers: Peers, service: RunningService, query: string) {
  const count = async () => {
    const before = peers.proxy.requests.length;
    const { ms, value } = await timed(() =>
      fetch(`${service.url}/recordings${query}`, { headers: HOST_HEADERS }).then((res) => res.json() as Promise<{ recordings: unknown[] }>),
    );
    return { ms, requests: peers.proxy.requests.length - before, shown: value.recordings.length };
  };
  const cold = await count();
  const warm = [];
  for (let run = 0; run < LIST_RUNS; run++) warm.push(await count());
  return { cold, warm };
}

async function s3rverListMs(peers: Peers, prefix: string) {
  const client = peers.s3.client();
  const times = [];
  for (let run = 0; run < LIST_RUNS; run++) {
    times.push((await timed(() => client.send(new ListObjectsV2Command({ Bucket: peers.s3.bucket, Prefix: prefix, MaxKeys: 51 })))).ms);
  }
  return times;
}

async function benchList(peers: Peers) {
  report('## List');
  report();
  report(`A page: \`GET /recordings\` (default limit 50) and \`GET /recordings?roomName=room-0\` (a room of 100). Recordings are seeded`);
  report(`through signed \`egress_ended\` webhooks, start times spread over a year, rooms of 100. Each size is measured on a`);
  report(`freshly started service: "cold" is its first request, then ${LIST_RUNS} runs.`);
  report();
  report(
    '| recordings | page | cold ms | cold S3 requests | median ms | p95 ms | S3 requests per page (warm) | s3rver LIST of the same index folder alone, median ms |',
  );
  report('|---:|---|---:|---:|---:|---:|---:|---:|');
  let seeded = 0;
  for (const size of LIST_SIZES) {
    const seeding = await startService(peers);
    const { ms: seedMs } = await timed(() => seed(peers, seeded, size));
    console.log(`seeded ${size - seeded} recordings in ${fixed(seedMs / 1000)} s`);
    seeded = size;
    await seeding.stop();
    const service = await startService(peers);
    const pages = [
      ['first', '', { kind: 'all' }],
      ['room', '?roomName=room-0', { kind: 'room', roomName: 'room-0' }],
    ] as const;
    for (const [label, query, scope] of pages) {
      const rawList = median(await s3rverListMs(peers, indexScopePrefix('recordings/', scope)));
      const { cold, warm } = await measurePage(peers, service, query);
      const times = warm.map((w) => w.ms);
      const requests = [...new Set(warm.map((w) => w.requests))].join('/');
      report(
        `| ${size.toLocaleString('en')} | ${label} (${cold.shown} shown) | ${fixed(cold.ms)} | ${cold.requests} | ${fixed(median(times))} | ${fixed(quantile(times, 0.95))} | ${requests} | ${fixed(rawList)} |`,
      );
    }
    await service.stop();
  }
  report();
}

async function benchWebhooks(peers: Peers) {
  report('## Webhooks');
  report();
  const service = await startService(peers, { direct: true });
  const client = peers.s3.client();
  const rounds: Array<{ rate: number; rawRate: number; cpuMsPerEvent: number }> = [];
  let persisted = 0;
  for (let round = 0; round < WEBHOOK_ROUNDS; round++) {
    // A burst as LiveKit sends it: one event per egress, each in its own room.
    const first = 100_000 + round * WEBHOOK_EVENTS;
    const infos = (status: EgressStatus) =>
      Array.from({ length: WEBHOOK_EVENTS }, (_, i) => recordingAt(peers, first + i, status, `hook-${first + i}`));
    const starting = infos(EgressStatus.EGRESS_STARTING);
    await pool(WEBHOOK_EVENTS, 16, (i) => send(peers, egressEvent('egress_started', starting[i])));
    const ended = infos(EgressStatus.EGRESS_COMPLETE);
    // As egress does: the media is uploaded before egress_ended is sent.
    await pool(WEBHOOK_EVENTS, 16, async (i) => {
      await client.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: ended[i].fileResults[0].filename, Body: MEDIA }));
    });
    const cpuBefore = cpuMs(service.process.child.pid!);
    const { ms } = await timed(() => pool(WEBHOOK_EVENTS, 16, (i) => send(peers, egressEvent('egress_ended', ended[i]))));
    const cpuMsPerEvent = (cpuMs(service.process.child.pid!) - cpuBefore) / WEBHOOK_EVENTS;
    await pool(WEBHOOK_EVENTS, 16, async (i) => {
      const name = path.basename(ended[i].fileResults[0].filename);
      const info = (await (await fetch(`${service.url}/recordings/${name}/info`, { headers: HOST_HEADERS })).json()) as {
        status?: string;
        playable?: boolean;
      };
      if (info.status === 'COMPLETE' && info.playable) persisted++;
    });
    const body = JSON.stringify(ended[0].toJson());
    const { ms: putMs } = await timed(() =>
      pool(WEBHOOK_EVENTS, 16, async (i) => {
        await client.send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: `raw-put/${round}/${i}.json`, Body: body }));
      }),
    );
    rounds.push({ rate: WEBHOOK_EVENTS / (ms / 1000), rawRate: WEBHOOK_EVENTS / (putMs / 1000), cpuMsPerEvent });
  }
  await service.stop();

  // The cost of one event, counted at the wire on a small sample.
  const counted = await startService(peers);
  const sample = Array.from({ length: 100 }, (_, i) => recordingAt(peers, 900_000 + i, EgressStatus.EGRESS_STARTING, `count-${i}`));
  await pool(sample.length, 16, (i) => send(peers, egressEvent('egress_started', sample[i])));
  const before = peers.proxy.requests.length;
  await pool(sample.length, 16, (i) =>
    send(peers, egressEvent('egress_ended', recordingAt(peers, 900_000 + i, EgressStatus.EGRESS_COMPLETE, `count-${i}`))),
  );
  const perEvent = (peers.proxy.requests.length - before) / sample.length;
  await counted.stop();

  const ratios = rounds.map((r) => r.rate / r.rawRate);
  const total = WEBHOOK_EVENTS * WEBHOOK_ROUNDS;
  report(
    `${WEBHOOK_ROUNDS} rounds, interleaved: ${WEBHOOK_EVENTS} signed \`egress_ended\` events for recordings already started (concurrency 16,`,
  );
  report(
    'each read back through `/info`), then as many raw PUTs of the same size straight to s3rver (concurrency 16). Median of the rounds, [min–max].',
  );
  report();
  report(
    '| webhooks persisted/s | read back COMPLETE and playable | s3rver raw PUT/s | ratio | S3 requests per event | service CPU ms per event |',
  );
  report('|---:|---:|---:|---:|---:|---:|');
  const spread = (values: number[], digits: number) =>
    `${fixed(median(values), digits)} [${fixed(Math.min(...values), digits)}–${fixed(Math.max(...values), digits)}]`;
  report(
    `| ${spread(
      rounds.map((r) => r.rate),
      0,
    )} | ${persisted}/${total} | ${spread(
      rounds.map((r) => r.rawRate),
      0,
    )} | ${spread(ratios, 2)} | ${fixed(perEvent, 1)} | ${spread(
      rounds.map((r) => r.cpuMsPerEvent),
      1,
    )} |`,
  );
  report();
}

/** Reads a whole response body as a browser's media element does (`Range: bytes=0-`), returning bytes read. */
async function readAll(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers: { ...headers, Range: 'bytes=0-' } });
  if (res.status !== 206 && res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  let bytes = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
  return bytes;
}

async function benchStreamAndUrl(peers: Peers) {
  const name = 'stream-RM_stream-1.mp4';
  const key = `recordings/${name}`;
  await peers.s3
    .client()
    .send(new PutObjectCommand({ Bucket: peers.s3.bucket, Key: key, Body: randomBytes(STREAM_BYTES), ContentType: 'video/mp4' }));
  const info = egressInfo({
    index: 900_000,
    roomName: 'stream',
    startedAt: NOW,
    status: EgressStatus.EGRESS_COMPLETE,
    bucket: peers.s3.bucket,
    size: STREAM_BYTES,
    filename: key,
  });

  const service = await startService(peers, { direct: true });
  await send(peers, egressEvent('egress_ended', info));
  const direct = await getSignedUrl(peers.s3.client(), new GetObjectCommand({ Bucket: peers.s3.bucket, Key: key }), { expiresIn: 3600 });
  const proxied = `${service.url}/recordings/${name}`;
  // One pair first to warm both paths up (JIT, sockets, s3rver's file cache), not counted.
  await readAll(direct);
  await readAll(proxied, HOST_HEADERS);
  const ratios: number[] = [];
  const cpu = { service: [] as number[], peersDirect: [] as number[], peersProxied: [] as number[] };
  const peersCpuMs = () => {
    const used = process.cpuUsage();
    return (used.user + used.system) / 1000;
  };
  for (let run = 0; run < STREAM_RUNS; run++) {
    let peersBefore = peersCpuMs();
    const straight = await timed(() => readAll(direct));
    cpu.peersDirect.push(peersCpuMs() - peersBefore);
    const serviceBefore = cpuMs(service.process.child.pid!);
    peersBefore = peersCpuMs();
    const through = await timed(() => readAll(proxied, HOST_HEADERS));
    cpu.peersProxied.push(peersCpuMs() - peersBefore);
    cpu.service.push(cpuMs(service.process.child.pid!) - serviceBefore);
    if (straight.value !== STREAM_BYTES || through.value !== STREAM_BYTES) throw new Error('a read came back short');
    ratios.push(straight.ms / through.ms);
  }
  const { ms: manyMs } = await timed(() => pool(READERS, READERS, async () => void (await readAll(proxied, HOST_HEADERS))));
  const peak = peakRssMiB(service.process.child.pid!);
  await service.stop();

  report('## Stream');
  report();
  report(
    `A ${STREAM_BYTES / 2 ** 20} MiB object read whole with \`Range: bytes=0-\` (as a media element starts), straight from s3rver and through`,
  );
  report(`\`GET /recordings/:name\`, interleaved, ${STREAM_RUNS} pairs after one to warm up. Ratio = proxy speed / direct speed.`);
  report();
  report(
    'CPU per read (medians): the service, and this process (s3rver and the reader share its one thread) for a direct and a proxied read.',
  );
  report();
  report(
    '| median ratio | min | max | service CPU ms | s3rver + reader CPU ms, direct / proxied | 16 concurrent readers through the proxy, total MiB/s | service peak RSS MiB |',
  );
  report('|---:|---:|---:|---:|---:|---:|---:|');
  report(
    `| ${fixed(median(ratios), 2)} | ${fixed(Math.min(...ratios), 2)} | ${fixed(Math.max(...ratios), 2)} | ${fixed(median(cpu.service), 0)} | ${fixed(median(cpu.peersDirect), 0)} / ${fixed(median(cpu.peersProxied), 0)} | ${fixed((READERS * STREAM_BYTES) / 2 ** 20 / (manyMs / 1000), 0)} | ${fixed(peak, 0)} |`,
  );
  report();

  const counted = await startService(peers);
  const before = peers.proxy.requests.length;
  let answered = 0;
  const until = Date.now() + 3000;
  const { ms } = await timed(() =>
    pool(READERS, READERS, async () => {
      while (Date.now() < until) {
        const res = await fetch(`${counted.url}/recordings/${name}/url`, { headers: HOST_HEADERS });
        if (res.ok) answered++;
        await res.arrayBuffer();
      }
    }),
  );
  const requests = peers.proxy.requests.length - before;
  await counted.stop();
  report('## URL');
  report();
  report('| `/recordings/:name/url` answers/s (concurrency 16, 3 s) | S3 requests in all |');
  report('|---:|---:|');
  report(`| ${fixed(answered / (ms / 1000), 0)} | ${requests} |`);
  report();
}

async function main() {
  const peers = await startPeers();
  const started = new Date();
  try {
    if (SECTIONS.includes('list')) await benchList(peers);
    if (SECTIONS.includes('webhooks')) await benchWebhooks(peers);
    if (SECTIONS.includes('stream')) await benchStreamAndUrl(peers);
  } finally {
    await peers.livekit.close();
    await peers.proxy.close();
    await peers.s3.close();
  }
  const header = [
    '# Benchmark results',
    '',
    `Run ${started.toISOString()} with \`npm run bench\` on ${machine()}.`,
    'Everything on loopback: the service (compiled, its own process, reconciler off), s3rver behind a counting proxy, the LiveKit double.',
    '',
  ];
  // A partial run (BENCH_SECTIONS) is for development: it prints, and leaves the results file alone.
  if (SECTIONS.length === ALL_SECTIONS.length) writeFileSync(path.join(__dirname, 'results.md'), [...header, ...lines].join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
