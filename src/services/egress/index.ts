/** The one lifecycle engine of everything an egress drives: LiveKit Egress calls, the commit path of a change, webhooks in, auto-stop. */
export * from './auto-stop.service';
export * from './commit';
export * from './egress.service';
export * from './webhook.service';
