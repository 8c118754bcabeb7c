const CONFIG = `Configuration (the services' variables): EVENT_STORE (jetstream|esdb), NATS_URL, EVENTS_STREAM,
EVENTS_SUBJECT_PREFIX, ESDB_CONNECTION_STRING, READ_MODEL_URL.`;

export const HELP: Record<string, string> = {
  main: `simdeploy: audit the deployment event streams

Usage: simdeploy <command> [options]     (simdeploy <command> --help for its options)

Commands:
  events         replay events in store order, as a table or NDJSON; --follow streams new ones
  verify         re-fold every deployment stream and check it (exit 0 only if everything holds)
  export         write events to an NDJSON file with a manifest and a SHA-256 hash chain
  verify-export  check an export offline: chain, count and trailer (exit 0 if intact)
  rebuild        rebuild the read model from the events and print events/s
  usage          machine-seconds by owner and instance type over a period, counted from the events

Exit codes: 0 ok, 1 a check failed or the store could not be read, 2 bad arguments or configuration.
${CONFIG}`,
  events: `Usage: simdeploy events [--deployment ID] [--from POSITION | --since TIME] [--until TIME] [--follow] [--json]

Replays events in store order: position, recording time, deployment, type and a short summary
(or, with --json, one JSON object per line).
  --deployment ID   only this deployment's stream
  --from POSITION   only events after this store position (from an earlier listing)
  --since TIME      only events the store recorded at or after TIME (ISO-8601, e.g. 2026-12-01T13:00:00Z)
  --until TIME      ... and at or before TIME
  --follow          after the stored events, keep printing new ones until Ctrl-C
  --json            NDJSON instead of the table
${CONFIG}`,
  verify: `Usage: simdeploy verify [--json] [--no-read-model]

Re-folds every deployment stream up to the head of the store and reports, with counts and stream ids:
events of unknown type or schema version; sequences the transition rules do not allow; deployments whose
fold differs from the read model READ_MODEL_URL names (skipped with a note when there is none); and
Terminated deployments whose events say instances or a workload were launched but never released.
Exit 0 only if all hold, 1 otherwise. A progress bar with events/s shows on a terminal.
  --json            print the report as JSON (no progress bar)
  --no-read-model   do not compare with the read model
${CONFIG}`,
  export: `Usage: simdeploy export --out FILE [--deployment ID] [--since TIME] [--until TIME]

Writes the selected events (store order, up to the head as of the start) as NDJSON: a manifest line
(format, creation time, filters, store, first and last position, count), one line per event carrying
prev (the previous line's hash) and its own SHA-256 hash, and a trailer with the count and final hash.
Check it later, offline, with simdeploy verify-export FILE.
${CONFIG}`,
  'verify-export': `Usage: simdeploy verify-export FILE [--json]

Checks an export without the store: every line's hash, the chain of prev hashes, the manifest's count
and positions, and the trailer. On failure names the first bad line and why. Exit 0 intact, 1 not.`,
  rebuild: `Usage: simdeploy rebuild [--json]

Drops the read model READ_MODEL_URL names and rebuilds it from every event, in one transaction (readers
keep the old one until the new one commits), with a progress bar and events/s.
${CONFIG}`,
  usage: `Usage: simdeploy usage [--since TIME] [--until TIME] [--owner OWNER] [--team TEAM] [--json]

Machine-seconds (and hours) by owner and instance type over [since, until), counted from the events
alone: a machine runs from its InstanceLaunched to the event that records it terminated, clipped to
the period; one still running counts up to now. The same definition as GET /usage, which serves it
from the read model. Defaults: until now, since the start (UTC) of the month until falls in.
${CONFIG}`,
};
