#!/usr/bin/env node
'use strict';
// Frozen: the Node simulator the local runtime ran before tools/simulator/simulator.sh; only bench/local-runtime/pod-footprint.ts runs it, as its baseline.
/*
 * The default pod program of the local runtime: stands in for a simulator, robot or bridge.
 *   node simulator.js [--role simulator|robot|bridge] [--ready-after-ms N]
 *                     [--fail-after-ms N [--exit-code C]]
 * Creates $SIMDEPLOY_READY_FILE once ready, exits 0 on SIGTERM, and exits when its parent
 * (the pod supervisor) goes away, so it never runs orphaned. Plain Node, no dependencies.
 */
const fs = require('node:fs');

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};

const role = option('role', process.env.SIMDEPLOY_POD_ROLE || 'simulator');
const readyAfterMs = Number(option('ready-after-ms', '0'));
const failAfterMs = option('fail-after-ms', undefined);
const exitCode = Number(option('exit-code', '1'));
const readyFile = process.env.SIMDEPLOY_READY_FILE;
const log = (message) => console.log(`[${role} ${process.env.SIMDEPLOY_POD_NAME || ''}] ${message}`);

log(`starting: world=${process.env.SIMDEPLOY_WORLD || '-'} image=${process.env.SIMDEPLOY_IMAGE || '-'} pid=${process.pid}`);

setTimeout(() => {
  if (readyFile) fs.writeFileSync(readyFile, `${process.pid}\n`);
  log('ready');
}, readyAfterMs);

if (failAfterMs !== undefined) {
  setTimeout(() => {
    log(`failing on purpose with exit code ${exitCode}`);
    process.exit(exitCode);
  }, Number(failAfterMs));
}

process.on('SIGTERM', () => {
  log('SIGTERM received, stopping');
  process.exit(0);
});

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    log(`parent ${parent} is gone, stopping`);
    process.exit(0);
  }
}, 250);
