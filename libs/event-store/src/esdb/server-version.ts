/**
 * The oldest EventStoreDB major the adapter runs on. 24.x subscribes strictly after the given
 * position whether a record is still there or not; older servers can skip the next event when
 * a subscription resumes at a position whose record was scavenged, and nothing on the client
 * side can tell. (Stream reads carry $all positions from 22.6, so that need is covered too.)
 */
export const MINIMUM_SERVER_MAJOR = 24;

export class UnsupportedServerError extends Error {
  constructor(readonly serverVersion: string) {
    super(
      serverVersion === 'unknown'
        ? `EventStoreDB did not report its version (servers before 21.10 do not): simdeploy needs ${MINIMUM_SERVER_MAJOR}.x or later`
        : `EventStoreDB ${serverVersion} is not supported: simdeploy needs ${MINIMUM_SERVER_MAJOR}.x or later ` +
            '(older servers can skip an event when a subscription resumes where a record was scavenged)',
    );
    this.name = 'UnsupportedServerError';
  }
}

/** `version` as the client's ServerFeatures report it: "24.10.0", or "unknown" before 21.10. */
export const checkServerVersion = (version: string): void => {
  const major = /^(\d+)\./.exec(version)?.[1];
  if (major === undefined || Number(major) < MINIMUM_SERVER_MAJOR) throw new UnsupportedServerError(version);
};
