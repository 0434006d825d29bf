import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

// `npm ci` refuses a lock that lacks the other platforms' binaries, which `npm install` drops
// here (the registry this machine reaches serves only Linux x64 builds). Catch that before CI.
describe('package-lock.json', () => {
  it('lists every platform binary, so `npm ci` accepts it on a fresh machine', () => {
    const script = path.join(__dirname, '..', '..', 'scripts', 'complete-lockfile.mjs');
    const result = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
