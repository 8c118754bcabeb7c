import { UnsupportedServerError, checkServerVersion } from './server-version';

describe('checkServerVersion', () => {
  it.each(['24.2.0', '24.10.4', '24.10.0.1850', '25.0.1', '26.0.0'])('accepts %s', (version) => {
    expect(() => checkServerVersion(version)).not.toThrow();
  });

  it.each(['23.10.2', '22.10.3', '21.10.9', '5.0.11', 'unknown', ''])('refuses "%s"', (version) => {
    expect(() => checkServerVersion(version)).toThrow(UnsupportedServerError);
  });
});
