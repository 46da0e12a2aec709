import { eventually } from './support/eventually';
import { NotificationReceiver } from './support/notification-receiver';
import { completeRecording, keysUnder } from './support/recordings';
import { startStack, type TestStack } from './support/stack';

const KEY = 'notification-signing-key-of-the-customer-0123';

/** A deletion that S3 cuts short is finished by the reconciler, and the customer is told once it is. */
describe('a deletion cut short', () => {
  let stack: TestStack;
  let receiver: NotificationReceiver;
  beforeAll(async () => {
    receiver = await NotificationReceiver.start(KEY);
    stack = await startStack({ env: { NOTIFY_URLS: receiver.url, NOTIFY_SIGNING_KEY: KEY } });
  });
  afterAll(async () => {
    await stack.close();
    await receiver.close();
  });

  it('sends recording.deleted once the reconciler has finished the deletion, and not before', async () => {
    const { name, recording } = await completeRecording(stack);
    // The media's DELETE fails, every retry of the S3 client too: the tombstone and index removal are done.
    for (let attempt = 0; attempt < 3; attempt++) {
      stack.s3Proxy.inject((method, path) => method === 'DELETE' && path.endsWith(`/${name}`) && !path.includes('/.'), {
        kind: 'status',
        status: 503,
      });
    }
    await stack.http().delete(`/recordings/${name}`).expect(503);
    const deleted = () => receiver.received.filter((r) => r.id === `${recording.id}:deleted`);
    expect(deleted()).toEqual([]);

    await stack.services.reconciler.runPass();
    await stack.http().get(`/recordings/${name}/info`).expect(404);
    await eventually(() => deleted().length === 1, { what: 'recording.deleted received' });
    expect(deleted()[0].recording).toMatchObject({ name, id: recording.id });
    await stack.services.reconciler.runPass();
    await eventually(async () => (await keysUnder(stack, 'recordings/.outbox/')).length === 0, { what: 'outbox empty' });
    expect(deleted()).toHaveLength(1);
  });
});
