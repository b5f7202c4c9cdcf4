import { describe, expect, it } from 'vitest';
import { diffLines, parseAssignment } from '../../../cli/commands/config.ts';
import { renderRows } from '../../../cli/format/render-rows.ts';
import { paint, renderTable } from '../../../cli/format/table.ts';
import { patronictlArgv } from '../../../cli/main.ts';

describe('the CLI table', () => {
  it('draws patronictl-style boxes, numbers right-aligned', () => {
    const text = renderTable(
      'Cluster: demo',
      ['Member', 'TL'],
      [
        ['node1', '1'],
        ['node22', '12'],
      ],
      ['TL'],
    );
    expect(text.split('\n')).toEqual([
      '+ Cluster: demo +',
      '| Member | TL |',
      '+--------+----+',
      '| node1  |  1 |',
      '| node22 | 12 |',
      '+--------+----+',
    ]);
  });

  it('measures coloured cells by what shows', () => {
    const text = renderTable('t', ['Role'], [[paint(true, 'Leader', 'green')], ['Replica']]);
    const widths = text
      .split('\n')
      .slice(1)
      .map(
        (l) =>
          l
            .split(String.fromCharCode(27))
            .join('')
            .replace(/\[\d+m/g, '').length,
      );
    expect(new Set(widths).size).toBe(1);
  });

  it('writes TSV with the columns in order', () => {
    expect(renderRows('tsv', ['A', 'B'], [{ A: 1, B: { x: 1 } }, { A: null }])).toBe('A\tB\n1\t{"x":1}\n\t');
  });
});

describe('edit-config helpers', () => {
  it.each([
    ['ttl=20', ['ttl'], 20],
    ['postgresql.use_slots=false', ['postgresql', 'use_slots'], false],
    ['pause=null', ['pause'], null],
    ['work_mem=8MB', ['work_mem'], '8MB'],
  ])('reads %s as a YAML value', (text, path, value) => {
    expect(parseAssignment('--set', text)).toEqual({ path, value });
  });

  it('refuses an assignment without =', () => {
    expect(() => parseAssignment('--set', 'ttl')).toThrow('--set: got "ttl", expected key=value');
  });

  it('shows removed and added lines', () => {
    expect(diffLines('a: 1\nb: 2', 'a: 1\nb: 3')).toBe('-b: 2\n+b: 3');
  });
});

describe("patronictl's query -c", () => {
  it('is the SQL after the query verb, and the config file anywhere else', () => {
    const argv = (...a: string[]) => patronictlArgv(['node', 'pgwarden', ...a]).slice(2);
    expect(argv('query', 'c1', '-c', 'SELECT 1')).toEqual(['query', 'c1', '--command', 'SELECT 1']);
    expect(argv('-c', 'f.yml', 'query', 'c1', '-c', 'SELECT 1')).toEqual([
      '-c',
      'f.yml',
      'query',
      'c1',
      '--command',
      'SELECT 1',
    ]);
    expect(argv('list', 'query', '-c', 'f.yml')).toEqual(['list', 'query', '-c', 'f.yml']);
  });
});
