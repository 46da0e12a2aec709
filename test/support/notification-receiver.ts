import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  id: string;
  type: string;
  timestamp: number;
  recording: Record<string, unknown>;
  /** The signature header checked against the body and timestamp header with the shared key. */
  signatureValid: boolean;
  /** What this receiver answered. */
  answered: number;
}

/**
 * The customer's endpoint, as a README receiver would be written: verifies the HMAC over
 * "<timestamp>.<body>", and answers as the test says (fail the next N, refuse, hang).
 */
export class NotificationReceiver {
  readonly received: Received[] = [];
  /** Requests received and not answered yet. */
  inFlight = 0;
  private failures: Array<{ matches: (notification: Received) => boolean; statuses: number[] }> = [];
  private hangMs = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly signingKey: string,
  ) {}

  static async start(signingKey: string): Promise<NotificationReceiver> {
    const server = http.createServer((req, res) => receiver.handle(req, res));
    const receiver = new NotificationReceiver(server, signingKey);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/recordings`;
  }

  /** The next notifications that `matches` are answered with these statuses, in turn (then 200 again). */
  failWhen(matches: (notification: Received) => boolean, ...statuses: number[]) {
    this.failures.push({ matches, statuses });
  }

  /** Every answer waits this long first. */
  hang(ms: number) {
    this.hangMs = ms;
  }

  of(type: string): Received[] {
    return this.received.filter((r) => r.type === type);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = req.headers['x-recording-manager-timestamp'] as string;
      const expected = `v1=${createHmac('sha256', this.signingKey).update(`${timestamp}.${body}`).digest('hex')}`;
      const given = String(req.headers['x-recording-manager-signature'] ?? '');
      const signatureValid = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
      const notification: Received = {
        ...(JSON.parse(body) as Omit<Received, 'signatureValid' | 'answered'>),
        signatureValid,
        answered: 200,
      };
      const failure = this.failures.find((f) => f.statuses.length > 0 && f.matches(notification));
      notification.answered = failure?.statuses.shift() ?? 200;
      this.received.push(notification);
      const answered = notification.answered;
      this.inFlight++;
      setTimeout(() => {
        this.inFlight--;
        res.writeHead(answered).end();
      }, this.hangMs);
    });
  }
}
