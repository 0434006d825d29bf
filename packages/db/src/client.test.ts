import { describe, expect, it } from '@jest/globals';
import { preparedStatementNames, sql } from './client';

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

describe('sql', () => {
  it('numbers each interpolated value as a parameter, in order', () => {
    const id = 'a1';
    const statement = sql`SELECT * FROM messages WHERE id = ${id}::uuid AND status = ${'queued'} LIMIT ${2}`;
    expect(statement).toEqual({
      text: 'SELECT * FROM messages WHERE id = $1::uuid AND status = $2 LIMIT $3',
      values: ['a1', 'queued', 2],
    });
  });

  it('builds one text per call site, whatever the values', () => {
    const at = (n: number) => sql`SELECT ${n}`;
    expect(at(1).text).toBe(at(2).text);
    expect(at(1).values).toEqual([1]);
  });
});
