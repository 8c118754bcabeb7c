// Preloaded into every service of a bench run (NODE_OPTIONS=--require ...): counts calls to the
// local providers' methods and to the JetStream event store's reads and appends, whatever the
// build, and writes the counts to $SIMDEPLOY_CALL_COUNTS_DIR/<pid>.json every half second.
// The same instrument for the baseline build and the current one, so their figures compare.
const Module = require('node:module');
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.SIMDEPLOY_CALL_COUNTS_DIR;
const counts = {};
const bump = (name) => {
  counts[name] = (counts[name] ?? 0) + 1;
};

const TARGETS = [
  { file: '/libs/cloud/src/local/local-node-provider.js', classes: ['LocalNodeProvider'], prefix: 'provider.' },
  { file: '/libs/cloud/src/local/local-pod-runtime.js', classes: ['LocalPodRuntime'], prefix: 'provider.' },
  { file: '/libs/event-store/src/jetstream/jetstream-event-store.js', classes: ['JetStreamEventStore'], prefix: 'store.', only: ['readStream', 'append'] },
];

function instrument(exports, target) {
  for (const name of target.classes) {
    const proto = exports[name]?.prototype;
    if (!proto || proto.__counted) continue;
    proto.__counted = true;
    for (const method of Object.getOwnPropertyNames(proto)) {
      if (method === 'constructor' || typeof proto[method] !== 'function') continue;
      if (target.only && !target.only.includes(method)) continue;
      const original = proto[method];
      proto[method] = function counted(...args) {
        // A batch implementation built on the single checks counts both; the batch is the provider call.
        bump(`${target.prefix}${method}`);
        return original.apply(this, args);
      };
    }
  }
}

if (dir) {
  const load = Module._load;
  Module._load = function loadCounted(request, parent, isMain) {
    const exports = load.apply(this, [request, parent, isMain]);
    try {
      const file = Module._resolveFilename(request, parent, isMain);
      for (const target of TARGETS) if (file.endsWith(target.file)) instrument(exports, target);
    } catch {
      // not a file module
    }
    return exports;
  };
  const flush = () => {
    try {
      writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ argv: process.argv.slice(1), counts }));
    } catch {
      // the bench reads what it can
    }
  };
  // A service killed by its signal after a graceful stop emits no 'exit': flush often as well.
  setInterval(flush, 500).unref();
  process.on('exit', flush);
}
