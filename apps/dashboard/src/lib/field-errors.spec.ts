import { fieldErrors } from './field-errors';

const FIELDS = ['world', 'image', 'robots', 'robots.0.name', 'robots.0.image', 'maxDurationSeconds', 'labels'];

describe('fieldErrors', () => {
  it("puts each of the gateway's messages next to the field it names, nested paths included", () => {
    const { byField, form } = fieldErrors(
      ['robots.0.name must be a lower-case DNS label (a-z, 0-9, -)', 'image must be a container image reference', 'maxDurationSeconds must be an integer number'],
      FIELDS,
    );
    expect(Object.fromEntries(byField)).toEqual({
      'robots.0.name': ['robots.0.name must be a lower-case DNS label (a-z, 0-9, -)'],
      image: ['image must be a container image reference'],
      maxDurationSeconds: ['maxDurationSeconds must be an integer number'],
    });
    expect(form).toEqual([]);
  });

  it('falls back to the nearest field it knows, and to the form for the rest', () => {
    const { byField, form } = fieldErrors(['robots.3.name must be unique', 'property colour should not exist', 'quota exceeded'], FIELDS);
    expect(Object.fromEntries(byField)).toEqual({ robots: ['robots.3.name must be unique'] });
    expect(form).toEqual(['property colour should not exist', 'quota exceeded']);
  });
});
