// Prints the workspace's closing test line from what tools/jest-summary-reporter.cjs recorded.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

const dir = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'tmp', 'test-results');
const total = { passed: 0, failed: 0, skipped: 0 };
for (const file of existsSync(dir) ? readdirSync(dir) : []) {
  const counts = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
  for (const key of Object.keys(total)) total[key] += counts[key] ?? 0;
}
process.stdout.write(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n`);
