/** Recordings: start and stop, options, the sidecar model, the media proxy, deletion, and their repair jobs. */
export * from './byte-range';
export * from './file-template.model';
export * from './media-streams.service';
export * from './recording-events.service';
export * from './recording-options.model';
export * from './recording-repair.jobs';
export * from './recording.model';
export * from './recording.service';
