// Checks that the native addon of better-sqlite3 (the embedded read model) loads, and builds
// it from its bundled sources when it does not: an install that skipped install scripts
// (npm's --ignore-scripts, or a policy that blocks them) leaves the package without its
// binary. The build uses node-gyp against the machine's Node headers; nothing is downloaded.
//   node tools/ensure-native.cjs        (used by .ci/run and npm start)
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function loads() {
  const probe = "const D=require('better-sqlite3');new D(':memory:').prepare('select 1').get()";
  return spawnSync(process.execPath, ['-e', probe], { cwd: root, stdio: 'ignore' }).status === 0;
}

if (!loads()) {
  process.stderr.write('better-sqlite3 has no working native addon: building it (npm rebuild better-sqlite3)\n');
  const rebuilt = spawnSync('npm', ['rebuild', 'better-sqlite3', '--foreground-scripts'], { cwd: root, stdio: 'inherit' });
  if (rebuilt.status !== 0 || !loads()) {
    process.stderr.write('better-sqlite3 still does not load: it needs python3, make and g++ to build (apt-get install -y python3 make g++)\n');
    process.exit(1);
  }
}
