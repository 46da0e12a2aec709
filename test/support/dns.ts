import type { ResolveHost } from '../../src/services/streams/host-resolver';

/** A name's addresses in a test's DNS table, or `FAILS`: the resolver cannot answer for it now. */
export type DnsTable = Record<string, string[] | typeof FAILS>;
export const FAILS = 'fails';

/**
 * The public names the tests stream to, with public addresses such as their real ones (A and AAAA).
 * No test asks a real DNS server.
 */
export const PUBLIC_DNS: DnsTable = {
  'a.rtmp.youtube.com': ['142.250.185.12', '2a00:1450:4001:82b::200c'],
  'live.twitch.tv': ['52.223.192.10'],
  'a1b2c3.global-contribute.live-video.net': ['99.181.64.5'],
  'ingest.example.com': ['93.184.215.14'],
  'b.example.com': ['93.184.215.15'],
};

/** A resolver answering from `table` ([] for a name it does not hold), counting what it was asked. */
export function tableResolver(table: DnsTable): ResolveHost & { asked: string[] } {
  const asked: string[] = [];
  const resolve = (host: string): Promise<string[]> => {
    asked.push(host);
    // An absolute name (a trailing dot) is the same name here: the table has no search domains.
    const answer = table[host.replace(/\.$/, '')] ?? [];
    if (answer === FAILS) return Promise.reject(new Error(`test DNS: no answer for ${host}`));
    return Promise.resolve(answer);
  };
  return Object.assign(resolve, { asked });
}
