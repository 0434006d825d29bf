import { readdirSync, readFileSync } from 'node:fs';

/** CPU time so far of each process of interest, in ms, by the part of the stack it belongs to. */
export type CpuSnapshot = Map<number, { part: string; ms: number }>;

// /proc/<pid>/stat counts in clock ticks; Linux's USER_HZ is 100 on every common build.
const MS_PER_TICK = 10;

/**
 * Where the CPU went, from /proc (Linux only; elsewhere nothing is measured): the processes a
 * benchmark started, named by `parts`, and every PostgreSQL and Redis server process on the
 * machine (so a benchmark should run alone). One snapshot before and one after a load give the
 * CPU each part spent on it, which the wall clock of a 2-core machine cannot tell apart.
 */
export function cpuSnapshot(parts: Map<number, string>): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return snapshot;
  }
  for (const pid of pids.map(Number)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const part = parts.get(pid) ?? serverPart(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      if (!part) continue;
      snapshot.set(pid, { part, ms: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK });
    } catch {
      // the process ended between the listing and the read
    }
  }
  return snapshot;
}

function serverPart(command: string): string | undefined {
  if (command === 'postgres') return 'postgres';
  if (command.startsWith('redis-server')) return 'redis';
  return undefined;
}

/** CPU ms each part spent between two snapshots (of processes alive at the second). */
export function cpuSpent(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [pid, { part, ms }] of after) {
    spent[part] = (spent[part] ?? 0) + ms - (before.get(pid)?.ms ?? 0);
  }
  return spent;
}
