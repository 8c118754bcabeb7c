import { OpenApiDocument, bodyFields, exampleValues, fieldPaths, toBody } from './launch-schema';

/** The part of the gateway's /docs-json the form reads, as @nestjs/swagger writes it. */
const DOC: OpenApiDocument = {
  paths: {
    '/simulations': {
      post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/LaunchSimulationDto' } } } } },
    },
  },
  components: {
    schemas: {
      RobotDto: {
        type: 'object',
        properties: { name: { type: 'string', example: 'x1' }, image: { type: 'string', example: 'acme/robot:1' } },
        required: ['name', 'image'],
      },
      LaunchSimulationDto: {
        type: 'object',
        properties: {
          world: { type: 'string', example: 'worlds/warehouse.sdf', description: 'The world the simulator loads' },
          robots: { type: 'array', items: { $ref: '#/components/schemas/RobotDto' } },
          maxDurationSeconds: { type: 'integer', minimum: 1, maximum: 604800, example: 3600 },
          labels: { type: 'object', additionalProperties: { type: 'string' }, example: { team: 'navigation' } },
          provider: { type: 'string', enum: ['local', 'aws'], example: 'local' },
        },
        required: ['world', 'robots'],
      },
    },
  },
};

describe('the launch form from the OpenAPI document', () => {
  const fields = bodyFields(DOC, '/simulations', 'post');

  it('has a field of the right kind for each property, required as the schema says', () => {
    expect(fields.map((f) => [f.name, f.kind, f.required, f.label])).toEqual([
      ['world', 'text', true, 'World'],
      ['robots', 'list', true, 'Robots'],
      ['maxDurationSeconds', 'number', false, 'Max duration seconds'],
      ['labels', 'map', false, 'Labels'],
      ['provider', 'choice', false, 'Provider'],
    ]);
    expect(fields[1]).toMatchObject({ item: [{ name: 'name', required: true }, { name: 'image', required: true }] });
    expect(fields[2]).toMatchObject({ integer: true, minimum: 1, maximum: 604800 });
    expect(fields[4]).toMatchObject({ options: ['local', 'aws'] });
  });

  it('sends what was typed, blank optional fields left out, numbers as numbers', () => {
    const values = { ...exampleValues(fields), maxDurationSeconds: '60', provider: '' };
    expect(toBody(fields, values)).toEqual({
      world: 'worlds/warehouse.sdf',
      robots: [{ name: 'x1', image: 'acme/robot:1' }],
      maxDurationSeconds: 60,
      labels: { team: 'navigation' },
    });
    // Not a number: sent as typed, for the gateway to say why.
    expect(toBody(fields, { ...values, maxDurationSeconds: 'soon' })).toMatchObject({ maxDurationSeconds: 'soon' });
  });

  it("names every path the gateway's messages may point at", () => {
    expect(fieldPaths(fields, exampleValues(fields))).toEqual(['world', 'robots', 'robots.0.name', 'robots.0.image', 'maxDurationSeconds', 'labels', 'provider']);
  });
});
