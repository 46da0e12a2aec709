/** Live streams to RTMP(S) and SRT: destinations and their checks, the stream store, events and repair. */
export * from './host-resolver';
export * from './public-address';
export * from './stream-events.service';
export * from './stream-repair.job';
export * from './stream-store.service';
export * from './stream.model';
export * from './stream.service';
