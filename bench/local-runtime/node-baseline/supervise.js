#!/usr/bin/env node
'use strict';
// Frozen: the Node supervise the local runtime ran before tools/simulator/supervise.sh; only bench/local-runtime/pod-footprint.ts runs it, as its baseline.
/*
 * Runs one pod's command for the local runtime:
 *   node supervise.js --pod <path prefix of the pod's files> --owner-file <owner.pid>
 *                     [--grace-ms 5000] [--poll-ms 250] -- <command> [args...]
 * The local runtime starts it detached, as leader of its own process group, so the pod
 * survives a restart of the launcher; it stops the pod when the runtime owner named in the
 * owner file is gone, and records how the command ended in <pod>.exit for checkWorkload.
 * Plain Node, no dependencies.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');

function parseArgs(argv) {
  const split = argv.indexOf('--');
  const options = {};
  const flags = split < 0 ? argv : argv.slice(0, split);
  for (let i = 0; i < flags.length; i += 2) options[flags[i].replace(/^--/, '')] = flags[i + 1];
  return { options, command: split < 0 ? [] : argv.slice(split + 1) };
}

const { options, command } = parseArgs(process.argv.slice(2));
const pod = options['pod'];
const ownerFile = options['owner-file'];
const graceMs = Number(options['grace-ms'] ?? 5000);
const pollMs = Number(options['poll-ms'] ?? 250);
if (!pod || !ownerFile || command.length === 0) {
  console.error('usage: supervise.js --pod <prefix> --owner-file <file> [--grace-ms N] [--poll-ms N] -- <command...>');
  process.exit(2);
}

const log = (message) => console.log(`[supervise ${new Date().toISOString()}] ${message}`);

function procStat(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTime: fields[19] };
  } catch {
    return undefined;
  }
}

// Same rule as isOwnerAlive in libs/cloud/src/local/runtime-owner.ts: pid alive, not a zombie,
// and the start time recorded with it, so a reused pid is not mistaken for the owner.
function ownerAlive() {
  let owner;
  try {
    owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8'));
    process.kill(owner.pid, 0);
  } catch (error) {
    if (!error || error.code !== 'EPERM') return false;
  }
  const stat = procStat(owner.pid);
  if (!stat) return true;
  return stat.state !== 'Z' && (owner.startTime === undefined || owner.startTime === stat.startTime);
}

function writeExit(code, signal, reason) {
  const file = `${pod}.exit`;
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, JSON.stringify({ code, signal, reason, at: new Date().toISOString() }));
    fs.renameSync(temp, file);
  } catch (error) {
    log(`could not record the exit: ${error.message}`);
  }
}

let stopReason;
const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
log(`started pid ${child.pid}: ${command.join(' ')}`);

child.on('error', (error) => {
  log(`could not start ${command[0]}: ${error.message}`);
  writeExit(127, null, `spawn failed: ${error.message}`);
  process.exit(127);
});

child.on('exit', (code, signal) => {
  log(`command exited (code ${code}, signal ${signal})`);
  writeExit(code, signal, stopReason ?? 'exited');
  process.exit(code ?? 1);
});

function stop(reason) {
  if (stopReason) return;
  stopReason = reason;
  log(`stopping: ${reason}`);
  // The whole group, so processes the command started go too.
  try {
    process.kill(-process.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  setTimeout(() => {
    log(`still running after ${graceMs} ms: SIGKILL`);
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
      process.exit(137);
    }
  }, graceMs).unref();
}

// Our own group SIGTERM reaches us too; the handler only starts the grace timer once.
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => stop('SIGHUP'));

setInterval(() => {
  if (!ownerAlive()) stop('runtime owner is gone');
}, pollMs);
