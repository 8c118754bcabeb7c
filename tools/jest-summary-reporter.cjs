// Records each Jest run's counts in tmp/test-results/, so .ci/run can print one closing line
// for the whole workspace ("N passed, N failed, N skipped").
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  onRunComplete(contexts, results) {
    const project = [...contexts][0]?.config.displayName?.name ?? 'unknown';
    const dir = path.resolve(__dirname, '..', 'tmp', 'test-results');
    fs.mkdirSync(dir, { recursive: true });
    const counts = {
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    fs.writeFileSync(path.join(dir, `${project}.json`), JSON.stringify(counts));
  }
}

module.exports = SummaryReporter;
