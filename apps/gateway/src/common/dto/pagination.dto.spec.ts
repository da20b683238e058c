import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { PaginationQueryDto } from './pagination.dto';

const errorsOf = (query: Record<string, string>) => validateSync(plainToInstance(PaginationQueryDto, query)).map((e) => e.property);

describe('PaginationQueryDto', () => {
  it('takes skip from 0 to the largest safe integer', () => {
    expect(errorsOf({ skip: '0', limit: '1000' })).toEqual([]);
    expect(errorsOf({ skip: String(Number.MAX_SAFE_INTEGER) })).toEqual([]);
  });

  it('refuses a skip no database takes as an integer offset (a 500 from SQLite before)', () => {
    for (const skip of ['1e308', '9007199254740993', '-1', '1.5', 'NaN', 'Infinity']) expect([skip, errorsOf({ skip })]).toEqual([skip, ['skip']]);
  });
});
