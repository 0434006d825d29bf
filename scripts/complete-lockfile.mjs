#!/usr/bin/env node
// Completes package-lock.json with the platform binaries this machine's registry does not serve.
//
// Why: the npm registry reachable here serves only the Linux x64 builds of packages such as
// turbo, @swc/core and jest's resolver. `npm install` then writes a lock without their macOS,
// Windows and other-CPU siblings, and `npm ci` refuses that lock ("Missing: @turbo/darwin-64@
// from lock file"). An entry with the right `os`/`cpu` is all `npm ci` needs: it skips a package
// whose platform does not match, and a machine of that platform fetches it by name and version.
//
// Run after any `npm install` that changes the lock: `npm run lockfile:complete`.
// `--check` only reports (the test suite runs it so CI fails early with this instruction).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const lockPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

const OS = [
  ['darwin', 'darwin'],
  ['win32', 'win32'],
  ['windows', 'win32'],
  ['android', 'android'],
  ['freebsd', 'freebsd'],
  ['openbsd', 'openbsd'],
  ['netbsd', 'netbsd'],
  ['sunos', 'sunos'],
  ['aix', 'aix'],
  ['linux', 'linux'],
  ['wasm', null],
];
const CPU = [
  ['arm64', 'arm64'],
  ['aarch64', 'arm64'],
  ['x64', 'x64'],
  ['-64', 'x64'],
  ['ia32', 'ia32'],
  ['arm', 'arm'],
  ['ppc64', 'ppc64'],
  ['s390x', 's390x'],
  ['riscv64', 'riscv64'],
  ['loong64', 'loong64'],
  ['wasm32', 'wasm32'],
];
const pick = (table, name) => table.find(([needle]) => name.includes(needle))?.[1];

const added = [];
const unknown = [];
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    // Where npm would place it: beside the dependent (nested) or at the top.
    const nested = `${location ? `${location}/` : ''}node_modules/${name}`;
    if (packages[nested] || packages[`node_modules/${name}`]) continue;
    const shortName = name.split('/').pop();
    const os = pick(OS, shortName);
    const cpu = pick(CPU, shortName.replace(/^.*?(darwin|win32|windows|android|freebsd|linux)/, ''));
    if (!/^\d+\.\d+\.\d+/.test(spec) || (os === undefined && cpu === undefined)) {
      unknown.push(`${name}@${spec} (needed by ${location || 'the root'})`);
      continue;
    }
    packages[`node_modules/${name}`] = {
      version: spec,
      ...(cpu ? { cpu: [cpu] } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
    };
    added.push(`${name}@${spec}`);
  }
}

if (process.argv.includes('--check')) {
  if (added.length || unknown.length) {
    console.error(
      `package-lock.json lacks ${added.length + unknown.length} platform packages, so \`npm ci\` would fail:`,
    );
    for (const line of [...added, ...unknown].slice(0, 10)) console.error(`  ${line}`);
    console.error('Run `npm run lockfile:complete` and commit package-lock.json.');
    process.exit(1);
  }
  process.exit(0);
}
if (unknown.length) {
  console.error(`cannot tell the platform of: ${unknown.join(', ')}; add their entries by hand`);
  process.exit(1);
}
// Stable order, as npm writes it.
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.log(
  added.length ? `added ${added.length} platform entries: ${added.join(', ')}` : 'package-lock.json is complete',
);
