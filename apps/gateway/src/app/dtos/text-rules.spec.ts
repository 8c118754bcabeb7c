import { hasControlCharacters, isImageReference } from './text-rules';

describe('image references (the OCI distribution grammar)', () => {
  it.each([
    'ubuntu',
    'gazebo/gz-sim:harmonic',
    'ghcr.io/acme/robot:1.2',
    'registry.example.com:5000/team/sub/image:v1.2-rc_3',
    'localhost:5000/sim',
    'localhost/sim:latest',
    `acme/robot@sha256:${'a'.repeat(64)}`,
    `ghcr.io/acme/robot:1.2@sha256:${'0'.repeat(64)}`,
    'a__b/c--d.e',
    '[::1]:5000/x',
  ])('accepts %s', (reference) => {
    expect(isImageReference(reference)).toBe(true);
  });

  it.each([
    ['an empty string', ''],
    ['upper case in a path', 'Acme/robot'],
    ['a trailing separator', 'acme/robot-'],
    ['a double slash', 'acme//robot'],
    ['a tag too long', `acme/robot:${'t'.repeat(129)}`],
    ['a short digest', 'acme/robot@sha256:abc'],
    ['a space', 'acme/robot latest'],
    ['a NUL', 'acme/robot\u0000'],
    ['a scheme', 'https://ghcr.io/acme/robot'],
    ['a leading dash in a component', '-acme/robot'],
    ['a name over 255 characters', `ghcr.io/${'a'.repeat(260)}`],
  ])('refuses %s', (_label, reference) => {
    expect(isImageReference(reference)).toBe(false);
  });
});

describe('control characters', () => {
  it('finds NUL, newlines and escapes; prose may keep newlines and tabs', () => {
    expect(hasControlCharacters('worlds/warehouse.sdf')).toBe(false);
    expect(hasControlCharacters('worlds/a\u0000.sdf')).toBe(true);
    expect(hasControlCharacters('line\nbreak')).toBe(true);
    expect(hasControlCharacters('esc\u001b[31m')).toBe(true);
    expect(hasControlCharacters('line\nbreak\ttab', true)).toBe(false);
    expect(hasControlCharacters('nul\u0000', true)).toBe(true);
  });
});
