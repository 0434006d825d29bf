import { describe, expect, it } from '@jest/globals';
import { preparedStatementNames } from './client';

describe('preparedStatementNames', () => {
  it('gives each distinct SQL text one name, the same every time', () => {
    const name = preparedStatementNames();
    const a = name({ sql: 'SELECT 1' });
    const b = name({ sql: 'SELECT 2' });
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(a).not.toBe(b);
    expect(name({ sql: 'SELECT 1' })).toBe(a);
  });

  it('leaves texts past the limit unprepared, and keeps naming the ones it knows', () => {
    const name = preparedStatementNames(2);
    const first = name({ sql: 'SELECT 1' });
    name({ sql: 'SELECT 2' });
    expect(name({ sql: 'SELECT 3' })).toBeUndefined();
    expect(name({ sql: 'SELECT 1' })).toBe(first);
  });
});
