import { startStack, type TestStack } from './support/stack';

/** The next LIST under `prefix` is refused (the S3 client does not retry a 403). */
const refuseList = (stack: TestStack, prefix: string) =>
  stack.s3Proxy.inject((method, _path, query) => method === 'GET' && query.get('prefix') === prefix, { kind: 'status', status: 403 });

describe('a failed S3 listing says what it was listing', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('the open streams', async () => {
    refuseList(stack, 'recordings/.streams/open/');
    await expect(stack.services.reconciler.runPass({ full: false })).rejects.toThrow(/^S3 could not list the open streams \(/);
  });

  it('the recordings', async () => {
    refuseList(stack, 'recordings/.index/all/');
    const answer = await stack.http().get('/recordings').expect(502);
    expect(answer.body).toMatchObject({
      code: 's3_error',
      errorMessage: expect.stringMatching(/^S3 could not list recordings \(/) as unknown,
    });
  });
});
