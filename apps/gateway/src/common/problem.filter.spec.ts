import { QueueUnavailableError } from '@app/queue';
import { QueryFailedError } from 'typeorm';
import { isOutage } from './problem.filter';

describe('isOutage: a dependency down is a 503, a bug stays a 500', () => {
  const pg = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each([
    ['PostgreSQL refusing connections', pg('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['PostgreSQL shutting down (57P01) inside a TypeORM error', new QueryFailedError('SELECT 1', [], pg('57P01', 'terminating connection due to administrator command'))],
    ['PostgreSQL starting up', pg('57P03', 'the database system is starting up')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['Redis gone (ioredis)', new Error('Connection is closed.')],
    ['the queue unreachable', new QueueUnavailableError('queue down')],
    ['a cause chain', new Error('wrapped', { cause: pg('ECONNRESET') })],
  ])('%s', (_what, err) => expect(isOutage(err)).toBe(true));

  it.each([
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a constraint violation', new QueryFailedError('INSERT', [], pg('23505', 'duplicate key value violates unique constraint'))],
    ['a full disk', pg('ENOSPC', 'no space left on device')],
    ['not an error', 'boom'],
  ])('%s', (_what, err) => expect(isOutage(err)).toBe(false));
});
