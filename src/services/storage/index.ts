/** Storage in S3: the clients (control and media apart), the sidecar store with room records, the listing index. */
export * from './recording-index';
export * from './recording-store.service';
export * from './s3.service';
