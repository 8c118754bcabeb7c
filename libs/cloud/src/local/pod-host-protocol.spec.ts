import { lineReader } from './pod-host-protocol';

describe('lineReader', () => {
  it('gives whole lines, whatever the chunks cut through, multi-byte characters included', () => {
    const lines: string[] = [];
    const read = lineReader((line) => lines.push(line));
    const bytes = Buffer.from('échec: ça marche\nsecond ✓\n\nthird', 'utf8');
    for (let i = 0; i < bytes.length; i++) read(bytes.subarray(i, i + 1));
    expect(lines).toEqual(['échec: ça marche', 'second ✓']);
    read('\n');
    expect(lines).toEqual(['échec: ça marche', 'second ✓', 'third']);
  });
});
