import { describe, expect, it } from '@jest/globals';
import { cpuSnapshot, cpuSpent, type CpuSnapshot } from './cpu-by-process';

describe('cpu by process', () => {
  it('adds up what each part spent between two snapshots', () => {
    const before: CpuSnapshot = new Map([
      [1, { part: 'worker', ms: 100 }],
      [2, { part: 'worker', ms: 50 }],
      [3, { part: 'postgres', ms: 10 }],
    ]);
    const after: CpuSnapshot = new Map([
      [1, { part: 'worker', ms: 180 }],
      [2, { part: 'worker', ms: 70 }],
      [3, { part: 'postgres', ms: 40 }],
      [4, { part: 'postgres', ms: 5 }], // a backend that started in between
    ]);
    expect(cpuSpent(before, after)).toEqual({ worker: 100, postgres: 35 });
  });

  it('reads this process from /proc, and sees it spend CPU', () => {
    const parts = new Map([[process.pid, 'me']]);
    const before = cpuSnapshot(parts);
    expect(before.get(process.pid)?.part).toBe('me');
    // 200 ms of CPU by the process's own count, however long that takes on a busy machine.
    const start = process.cpuUsage();
    while ((process.cpuUsage(start).user + process.cpuUsage(start).system) / 1000 < 200) Math.sqrt(Math.random());
    expect(cpuSpent(before, cpuSnapshot(parts)).me).toBeGreaterThanOrEqual(150);
  });
});
