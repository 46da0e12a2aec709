import { lookup } from 'node:dns/promises';
import { withTimeout } from '../platform/concurrency';

/**
 * A host name's addresses, as egress would resolve it: [] when the name does not exist; a rejection
 * when it cannot be told now (no answer in time, a failing DNS server). Injectable, so tests run offline.
 */
export type ResolveHost = (host: string) => Promise<string[]>;

/** Answers of getaddrinfo meaning "no such name" (Node reports EAI_NONAME and EAI_NODATA so). */
const NO_SUCH_NAME = new Set(['ENOTFOUND', 'ENODATA']);

type Lookup = (host: string, options: { all: true; verbatim: true }) => Promise<Array<{ address: string }>>;

/** The system's resolver (getaddrinfo, every address of every family), given `timeoutMs` to answer. */
export function systemResolver(timeoutMs: number, resolve: Lookup = lookup): ResolveHost {
  return (host) => {
    const addresses = resolve(host, { all: true, verbatim: true }).then(
      (found) => found.map(({ address }) => address),
      (error: NodeJS.ErrnoException) => {
        if (error.code && NO_SUCH_NAME.has(error.code)) return [];
        throw error;
      },
    );
    // getaddrinfo cannot be cancelled: past the limit its answer is ignored.
    return withTimeout(addresses, timeoutMs, () => new Error(`no answer for ${host} in ${timeoutMs} ms`));
  };
}
