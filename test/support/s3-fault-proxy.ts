import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  /** The decoded path without the query: `/<bucket>/<key>`. */
  path: string;
  /** True when the upstream response was fully passed on; false when either side went away first. */
  completed: boolean;
  /** True once the exchange is over, either way. */
  closed: boolean;
}

/** Which requests a fault is for: the object path (decoded) and the query (a LIST's `prefix`). */
type RequestMatcher = (method: string, path: string, query: URLSearchParams) => boolean;

type Fault = { kind: 'status'; status: number } | { kind: 'cut'; afterBytes: number } | { kind: 'hang' };

/**
 * An HTTP proxy of our own between the service and s3rver: it counts S3 requests at the wire and
 * injects faults (an error status, or a body cut off mid-stream) without reaching into s3rver.
 */
export class S3FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private faults: Array<{ matches: RequestMatcher; fault: Fault }> = [];
  /** Per object: the exchange in progress, so the next one on that key waits for it. */
  private readonly busyKeys = new Map<string, Promise<void>>();

  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
  ) {}

  static async start(upstream: string): Promise<S3FaultProxy> {
    const target = new URL(upstream);
    // Requests come only once the port is known, after `proxy` is set below.
    const server = http.createServer((req, res) => proxy.forward(target, req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new S3FaultProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    return proxy;
  }

  /**
   * s3rver overwrites an object in place, so a GET that overlaps a PUT of the same key can stop
   * short of its Content-Length and hang. Real S3 replaces objects atomically; one exchange at a
   * time per key gives the service that behaviour here.
   */
  private oneAtATime(key: string, res: http.ServerResponse, exchange: () => void) {
    const previous = this.busyKeys.get(key) ?? Promise.resolve();
    const done = new Promise<void>((resolve) => res.on('close', resolve));
    const tail = previous.then(() => done);
    this.busyKeys.set(key, tail);
    void tail.then(() => {
      if (this.busyKeys.get(key) === tail) this.busyKeys.delete(key);
    });
    void previous.then(exchange);
  }

  /** The next matching request gets `fault`. */
  inject(matches: RequestMatcher, fault: Fault) {
    this.faults.push({ matches, fault });
  }

  private takeFault(method: string, path: string, query: URLSearchParams): Fault | undefined {
    const index = this.faults.findIndex((entry) => entry.matches(method, path, query));
    return index === -1 ? undefined : this.faults.splice(index, 1)[0].fault;
  }

  private forward(target: URL, req: http.IncomingMessage, res: http.ServerResponse) {
    const key = new URL(req.url ?? '/', 'http://proxy').pathname;
    // Bucket-level requests (LIST, DeleteObjects) name no object: queued on one key they would wait
    // for each other for nothing.
    if (/^\/[^/]+\/?$/.test(key)) this.exchange(target, req, res);
    else this.oneAtATime(key, res, () => this.exchange(target, req, res));
  }

  private exchange(target: URL, req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const record: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: decodeURIComponent(url.pathname),
      completed: false,
      closed: false,
    };
    this.requests.push(record);
    const fault = this.takeFault(record.method, record.path, url.searchParams);
    if (fault?.kind === 'hang') {
      req.resume(); // never answered; the exchange ends when the client gives up
      res.on('close', () => {
        record.closed = true;
      });
      return;
    }
    if (fault?.kind === 'status') {
      req.resume();
      res.writeHead(fault.status, { 'Content-Type': 'application/xml' });
      res.end(`<?xml version="1.0"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>`);
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (fault?.kind === 'cut') return this.cutAfter(answer, res, fault.afterBytes);
        answer.pipe(res);
        answer.on('end', () => {
          record.completed = true;
        });
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => {
      record.closed = true;
      upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** Passes `afterBytes` of the body on and then drops both connections, as a failing S3 would. */
  private cutAfter(answer: http.IncomingMessage, res: http.ServerResponse, afterBytes: number) {
    let sent = 0;
    answer.on('data', (chunk: Buffer) => {
      if (sent >= afterBytes) return;
      const part = chunk.subarray(0, afterBytes - sent);
      sent += part.length;
      if (sent < afterBytes) {
        res.write(part);
        return;
      }
      // Only once the headers and the first bytes are on the wire, so the client is mid-body.
      answer.pause();
      res.write(part, () =>
        setTimeout(() => {
          answer.destroy();
          res.destroy();
        }, 50),
      );
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
