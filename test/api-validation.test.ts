import { joinTokenRequestSchema, listQuerySchema, parseInput, tokenRequestSchema } from '../src/models/api.model';
import { AppError } from '../src/services/platform/app-error';

const problemsOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as AppError).message;
  }
  return 'no problem';
};

describe('request validation', () => {
  it('treats empty filters as no filter, as the reference did', () => {
    expect(parseInput(listQuerySchema, { roomName: '', roomId: '', limit: '', cursor: '' })).toEqual({ limit: 50 });
    expect(parseInput(listQuerySchema, { roomName: 'Test Room', limit: '10' })).toEqual({ roomName: 'Test Room', limit: 10 });
  });

  it('says clearly what is wrong, once per field', () => {
    expect(problemsOf(() => parseInput(listQuerySchema, { roomName: ['a', 'b'] }))).toBe('roomName must be given once');
    expect(problemsOf(() => parseInput(listQuerySchema, { limit: ['10', '20'] }))).toBe('limit must be given once');
    expect(problemsOf(() => parseInput(listQuerySchema, { limit: 'ten' }))).toBe('limit must be a number');
    expect(problemsOf(() => parseInput(listQuerySchema, { limit: '500' }))).toBe('limit is at most 100');
    expect(problemsOf(() => parseInput(joinTokenRequestSchema, {}))).toBe('roomName is required');
    expect(problemsOf(() => parseInput(tokenRequestSchema, { roomName: 5, participantName: 'p' }))).toBe('roomName must be a string');
  });
});
