import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRequest } from './auth';
import type { FaultRegistry } from './faults';
import type { ServiceName, TwirpMethod } from './handlers';
import type { Lifetime } from './lifetime';
import { TwirpError, writeJson, writePlain, writeTwirpError } from './twirp';

/** One Twirp call as the double saw it. `status` is 0 until answered, and stays 0 for a 'network' fault. */
export interface CallRecord {
  service: ServiceName;
  method: string;
  /** The parsed JSON body (undefined when it was not JSON). */
  request: unknown;
  status: number;
}

export interface TransportOptions {
  services: Record<ServiceName, Record<string, TwirpMethod>>;
  keys: ReadonlyMap<string, string>;
  faults: FaultRegistry;
  calls: CallRecord[];
  lifetime: Lifetime;
}

/** LiveKit's `limit.max_api_request_body_size` default. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;
const ROUTE = /^\/twirp\/livekit\.([A-Za-z]+)\/([A-Za-z]+)$/;

interface Route {
  service: ServiceName;
  method: string;
  handler?: TwirpMethod;
}

/** The HTTP side of the double: Twirp routing, auth middleware, fault injection, JSON in and out. */
export class TwirpTransport {
  private readonly server: http.Server;

  private constructor(
    private readonly options: TransportOptions,
    readonly url: string,
    server: http.Server,
  ) {
    this.server = server;
  }

  static async listen(options: TransportOptions): Promise<TwirpTransport> {
    // Requests come only once the port is known, after `transport` is set below.
    const server = http.createServer((req, res) => {
      void transport.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) writeTwirpError(res, new TwirpError('internal', `LiveKit double: ${String(error)}`));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const transport = new TwirpTransport(options, `http://127.0.0.1:${port}`, server);
    return transport;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) return writePlain(res, 413, 'request body too large');
    const url = new URL(req.url ?? '/', 'http://double');
    const route = this.route(url.pathname);
    const json = parseJson(body);
    const call: CallRecord | undefined = route && { service: route.service, method: route.method, request: json, status: 0 };
    if (call) this.options.calls.push(call);
    const fault = route && this.options.faults.take(route.service, route.method);
    if (fault?.kind === 'network') {
      req.socket.destroy();
      return;
    }
    const { status, send } =
      fault?.kind === 'error' ? errorAnswer(new TwirpError(fault.code, fault.msg)) : await this.answer(req, url, route, json);
    const answerNow =
      fault?.kind === 'delay'
        ? this.options.lifetime.sleep(fault.delayMs)
        : fault?.kind === 'held'
          ? this.options.lifetime.settled(fault.until)
          : true;
    if (!(await answerNow)) {
      req.socket.destroy();
      return;
    }
    if (call) call.status = status;
    send(res);
  }

  /** Acts on the request (as long as LiveKit takes) and returns how to answer it (so a delay fault can answer later). */
  private async answer(req: IncomingMessage, url: URL, route: Route | undefined, json: unknown): Promise<Answer> {
    const auth = verifyRequest(req.headers.authorization, url.searchParams.get('access_token'), this.options.keys);
    if (auth.kind === 'rejected') return { status: 401, send: (res) => writePlain(res, 401, auth.message) };
    try {
      const handler = this.checkRoute(req, url, route);
      if (json === undefined) throw new TwirpError('malformed', 'the json request could not be decoded');
      const response = await handler(json, auth.kind === 'verified' ? auth.claims.video : undefined);
      const payload = response.toJson({ useProtoFieldName: true, emitDefaultValues: true });
      return { status: 200, send: (res) => writeJson(res, 200, payload) };
    } catch (error) {
      if (error instanceof TwirpError) return errorAnswer(error);
      return errorAnswer(new TwirpError('internal', `LiveKit double: ${error instanceof Error ? error.message : String(error)}`));
    }
  }

  private route(pathname: string): Route | undefined {
    const match = ROUTE.exec(pathname);
    if (!match) return undefined;
    const service = match[1] as ServiceName;
    const methods = this.options.services[service];
    if (!methods) return undefined;
    return { service, method: match[2], handler: Object.prototype.hasOwnProperty.call(methods, match[2]) ? methods[match[2]] : undefined };
  }

  /** Twirp's own checks: POST only, a served method, a JSON content type. */
  private checkRoute(req: IncomingMessage, url: URL, route: Route | undefined): TwirpMethod {
    const meta = { twirp_invalid_route: `${req.method} ${url.pathname}` };
    if (req.method !== 'POST') throw new TwirpError('bad_route', `unsupported method "${req.method}" (only POST is allowed)`, meta);
    if (!route?.handler) throw new TwirpError('bad_route', `no handler for path "${url.pathname}"`, meta);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (contentType !== 'application/json') {
      throw new TwirpError(
        'bad_route',
        `unexpected Content-Type: "${req.headers['content-type'] ?? ''}" (the LiveKit double speaks JSON only)`,
        meta,
      );
    }
    return route.handler;
  }
}

interface Answer {
  status: number;
  send: (res: ServerResponse) => void;
}

const errorAnswer = (error: TwirpError): Answer => ({ status: error.status, send: (res) => writeTwirpError(res, error) });

/** The body, or undefined when it exceeds the limit. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
