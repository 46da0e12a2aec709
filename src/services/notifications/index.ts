/** Notifications to the customer: the durable outbox in S3 and its signed deliveries. */
export * from './notification.service';
