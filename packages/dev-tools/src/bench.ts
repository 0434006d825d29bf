// `npm run bench`: no benchmark exists yet (they arrive with the benchmarks issue).
console.log('zapflow bench: no benchmarks exist yet; see the benchmarks issue. Nothing was measured.');
