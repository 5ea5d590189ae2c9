import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type CsvOptions, loadCsv, parseCsv } from '../src/data/csv.js';

const tmp = mkdtempSync(join(tmpdir(), 'tensorgrad-csv-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, content: string | Uint8Array): string {
  const path = join(tmp, name);
  writeFileSync(path, content);
  return path;
}

const rows = (t: { shape: readonly number[]; data: Float32Array }): number[][] => {
  const [n, f] = t.shape as [number, number];
  return Array.from({ length: n }, (_, i) => Array.from(t.data.subarray(i * f, (i + 1) * f)));
};

const IRIS = `sepal_length,sepal_width,petal_length,petal_width,species
5.1,3.5,1.4,0.2,setosa
7.0,3.2,4.7,1.4,versicolor
6.3,3.3,6.0,2.5,virginica
4.9,3.0,1.4,0.2,setosa
`;

describe('parseCsv', () => {
  it('reads features under a header, with no label column', () => {
    const d = parseCsv('a,b\n1,2\n3,4\n');
    expect(d.x.shape).toEqual([2, 2]);
    expect(rows(d.x)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(d.y).toBeNull();
    expect(d.featureNames).toEqual(['a', 'b']);
    expect(d.classes).toEqual([]);
  });

  it('takes text labels by name, as indices of the sorted names', () => {
    const d = parseCsv(IRIS, { labelColumn: 'species' });
    expect(d.featureNames).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(d.x.shape).toEqual([4, 4]);
    expect(rows(d.x)[1]).toEqual([7, 3.2, 4.7, 1.4].map(Math.fround));
    expect(d.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(Array.from(d.y!.data)).toEqual([0, 1, 2, 0]);
    expect(d.y!.shape).toEqual([4]);
  });

  it('takes the label column by 0-based index, anywhere in the row', () => {
    const d = parseCsv('y,a,b\n1,10,20\n0,30,40\n', { labelColumn: 0 });
    expect(d.featureNames).toEqual(['a', 'b']);
    expect(rows(d.x)).toEqual([
      [10, 20],
      [30, 40],
    ]);
    expect(Array.from(d.y!.data)).toEqual([1, 0]);
    expect(parseCsv(IRIS, { labelColumn: 4 }).classes).toEqual(['setosa', 'versicolor', 'virginica']);
  });

  it('uses non-negative integer labels as class indices directly, classes running 0..max', () => {
    const d = parseCsv('a,y\n1,2\n2,0\n3,2\n4,+0\n5,3.0\n', { labelColumn: 'y' });
    expect(Array.from(d.y!.data)).toEqual([2, 0, 2, 0, 3]);
    expect(d.classes).toEqual(['0', '1', '2', '3']);
    expect(Object.is(d.y!.data[3], 0)).toBe(true);
  });

  it('maps other numeric labels by value order, and huge integers (ids, codes) too', () => {
    const neg = parseCsv('a,y\n1,10\n2,-1\n3,2\n4,10\n', { labelColumn: 'y' });
    expect(neg.classes).toEqual(['-1', '2', '10']);
    expect(Array.from(neg.y!.data)).toEqual([2, 0, 1, 2]);
    const frac = parseCsv('a,y\n1,0.5\n2,1.5\n3,0.5\n', { labelColumn: 'y' });
    expect(frac.classes).toEqual(['0.5', '1.5']);
    expect(Array.from(frac.y!.data)).toEqual([0, 1, 0]);
    const big = parseCsv('a,y\n1,200000\n2,100000\n', { labelColumn: 'y' });
    expect(big.classes).toEqual(['100000', '200000']);
    expect(Array.from(big.y!.data)).toEqual([1, 0]);
    // Sparse small integers are codes too: three classes, not 40,001.
    const sparse = parseCsv('a,y\n1,10\n2,500\n3,40000\n4,10\n', { labelColumn: 'y' });
    expect(sparse.classes).toEqual(['10', '500', '40000']);
    expect(Array.from(sparse.y!.data)).toEqual([0, 1, 2, 0]);
    // Dense enough (at least half of 0..max present): used as they are, as PyTorch would.
    expect(parseCsv('a,y\n1,1\n2,2\n3,3\n', { labelColumn: 'y' }).classes).toEqual(['0', '1', '2', '3']);
  });

  it('treats a mix of numbers and words as text, trimming spaces and tabs', () => {
    const d = parseCsv('a,y\n1, cat\n2,10\n3,\tcat \n4,2\n', { labelColumn: 'y' });
    expect(d.classes).toEqual(['10', '2', 'cat']);
    expect(Array.from(d.y!.data)).toEqual([2, 0, 2, 1]);
  });

  it('handles quoted fields holding delimiters, doubled quotes and line breaks', () => {
    const text = 'id,"len, cm","say ""x""",label\n1,"2.5",3,"a, b"\n2," 4 ","5","he said ""hi""\nthen left"\n3,6,7,plain\n';
    const d = parseCsv(text, { labelColumn: 'label', ignoreColumns: ['id'] });
    expect(d.featureNames).toEqual(['len, cm', 'say "x"']);
    expect(rows(d.x)).toEqual([
      [2.5, 3],
      [4, 5],
      [6, 7],
    ]);
    expect(d.classes).toEqual(['a, b', 'he said "hi"\nthen left', 'plain']);
    expect(Array.from(d.y!.data)).toEqual([0, 1, 2]);
  });

  it('counts line breaks inside quotes when numbering lines', () => {
    const text = 'a,label\n1,"two\nlines"\n2,"three\r\nmore\nlines"\n3,ok\nx,bad\n';
    expect(() => parseCsv(text, { labelColumn: 'label' })).toThrow('parseCsv: <string>: line 8, column 1 ("a"): "x" is not a number');
  });

  it('accepts CRLF, a BOM, no trailing newline, and skips blank lines (counting them)', () => {
    const d = parseCsv('\uFEFFa,b\r\n1,2\r\n\r\n3,4', {});
    expect(d.featureNames).toEqual(['a', 'b']);
    expect(rows(d.x)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const trailing = parseCsv('a,b\n1,2\n\n\n\n');
    expect(trailing.x.shape).toEqual([1, 2]);
    expect(() => parseCsv('a,b\n1,2\n\n\n3,x\n')).toThrow('parseCsv: <string>: line 5, column 2 ("b"): "x" is not a number');
    expect(() => parseCsv('a,b\r\n1,2\r\n\r\n3,\r\n')).toThrow('parseCsv: <string>: line 4, column 2 ("b"): empty value');
  });

  it('drops ignoreColumns by name and by index', () => {
    const d = parseCsv('id,a,b,c\n7,1,2,3\n8,4,5,6\n', { ignoreColumns: ['id', 2] });
    expect(d.featureNames).toEqual(['a', 'c']);
    expect(rows(d.x)).toEqual([
      [1, 3],
      [4, 6],
    ]);
  });

  it('reads files without a header, naming columns by index', () => {
    const d = parseCsv('1,2,0\n3,4,1\n', { header: false, labelColumn: 2 });
    expect(d.featureNames).toEqual(['0', '1']);
    expect(rows(d.x)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(Array.from(d.y!.data)).toEqual([0, 1]);
    expect(() => parseCsv('1,2\n3,x\n', { header: false })).toThrow('parseCsv: <string>: line 2, column 2: "x" is not a number');
  });

  it('takes other delimiters', () => {
    expect(rows(parseCsv('a;b\n1,5;2\n', { delimiter: ';', header: true, ignoreColumns: [0] }).x)).toEqual([[2]]);
    expect(rows(parseCsv('a\tb\n1\t2\n', { delimiter: '\t' }).x)).toEqual([[1, 2]]);
  });

  it('accepts decimal numbers with signs, exponents and surrounding spaces', () => {
    const values = ['0', '-0', '+1.5', ' 2 ', '\t3.25\t', '.5', '5.', '1e3', '-2.5E-3', '1e-50', '3.4028234e38', '"7"', '" 8 "'];
    const d = parseCsv(`${values.map((_, i) => `c${i}`).join(',')}\n${values.join(',')}\n`);
    expect(Array.from(d.x.data)).toEqual([0, -0, 1.5, 2, 3.25, 0.5, 5, 1000, -0.0025, 0, 3.4028234e38, 7, 8].map(Math.fround));
    expect(Object.is(d.x.data[1], -0)).toBe(true);
  });

  it('returns an empty matrix for a header with no rows', () => {
    const d = parseCsv('a,b,label\n', { labelColumn: 'label' });
    expect(d.x.shape).toEqual([0, 2]);
    expect(d.y!.shape).toEqual([0]);
    expect(d.classes).toEqual([]);
  });

  it('allocates exactly rows × features floats', () => {
    const d = parseCsv('a,b,c\n1,2,3\n4,5,6\n\n\n\n\n\n\n', { ignoreColumns: ['b'] });
    expect(d.x.data.length).toBe(4);
    expect(d.x.data.buffer.byteLength).toBe(16);
  });
});

describe('parseCsv errors', () => {
  const bad = (text: string, options: CsvOptions = {}) => () => parseCsv(text, { name: 'data.csv', ...options });

  it('rejects values that are not decimal numbers, naming line, column and value', () => {
    for (const v of ['abc', 'NaN', 'Infinity', '-Infinity', '0x10', '1.2.3', '1e', '--1', '1 2', '1,5', '٣', '1_000']) {
      const cell = v.includes(',') ? `"${v}"` : v;
      expect(bad(`a,b\n1,2\n3,${cell}\n`)).toThrow(`parseCsv: data.csv: line 3, column 2 ("b"): ${JSON.stringify(v)} is not a number`);
    }
  });

  it('rejects empty values, including quoted and blank ones', () => {
    for (const cell of ['', '""', '  ', '" "']) {
      expect(bad(`a,b,c\n1,${cell},3\n`)).toThrow('parseCsv: data.csv: line 2, column 2 ("b"): empty value');
    }
  });

  it('rejects numbers outside float32', () => {
    expect(bad('a\n1e39\n')).toThrow('parseCsv: data.csv: line 2, column 1 ("a"): "1e39" is outside the float32 range');
    expect(bad('a\n-1e999\n')).toThrow('parseCsv: data.csv: line 2, column 1 ("a"): "-1e999" is outside the float32 range');
  });

  it('rejects a row with the wrong number of fields', () => {
    expect(bad('a,b,c\n1,2,3\n4,5\n')).toThrow('parseCsv: data.csv: line 3: expected 3 fields (as in the header), found 2');
    expect(bad('a,b,c\n1,2,3,\n')).toThrow('parseCsv: data.csv: line 2: expected 3 fields (as in the header), found 4');
    expect(bad('1,2\n3,4,5\n', { header: false })).toThrow('parseCsv: data.csv: line 2: expected 2 fields (as in the first row), found 3');
  });

  it('rejects an unknown label column, listing the columns', () => {
    expect(bad(IRIS, { labelColumn: 'class' })).toThrow(
      'parseCsv: data.csv: labelColumn "class" is not a column; the columns are "sepal_length", "sepal_width", "petal_length", "petal_width", "species"',
    );
    expect(bad(IRIS, { labelColumn: 5 })).toThrow('parseCsv: data.csv: labelColumn 5 is not a 0-based index of one of the 5 columns (0..4)');
    expect(bad(IRIS, { labelColumn: 1.5 })).toThrow(/labelColumn 1\.5 is not a 0-based index/);
    expect(bad('1,2\n', { header: false, labelColumn: 'y' })).toThrow('parseCsv: data.csv: labelColumn "y" is a name but header is false; give a 0-based index');
    expect(bad(IRIS, { ignoreColumns: ['id'] })).toThrow(/^parseCsv: data\.csv: ignoreColumns entry "id" is not a column; the columns are "sepal_length"/);
    expect(bad(IRIS, { labelColumn: 'species', ignoreColumns: [4] })).toThrow(
      'parseCsv: data.csv: column "species" is both the labelColumn and in ignoreColumns',
    );
  });

  it('rejects duplicate header names', () => {
    expect(bad('a,b,a\n1,2,3\n')).toThrow('parseCsv: data.csv: line 1: duplicate header name "a" (columns 1 and 3)');
  });

  it('rejects an empty label', () => {
    expect(bad('a,y\n1,x\n2, \n', { labelColumn: 'y' })).toThrow('parseCsv: data.csv: line 3, column 2 ("y"): empty label');
  });

  it('rejects malformed quoting, naming where it is', () => {
    expect(bad('a,b\n1,2\n3,"4\n5,6\n')).toThrow('parseCsv: data.csv: line 3, column 2 ("b"): a quoted field is never closed (missing closing quote)');
    expect(bad('a,b\n1,"2"x\n')).toThrow('parseCsv: data.csv: line 2, column 2 ("b"): "x" after a closing quote (a quote inside a quoted field must be doubled)');
    expect(bad('a,b\n1,"2\n"x\n')).toThrow('parseCsv: data.csv: line 3, column 2 ("b"): "x" after a closing quote (a quote inside a quoted field must be doubled)');
    expect(bad('a,b\n1,2"\n')).toThrow('parseCsv: data.csv: line 2, column 2 ("b"): a quote inside an unquoted field (quote the whole field and double the quote)');
    expect(bad('a,b\n1,"2"\r3\n')).toThrow(/^parseCsv: data\.csv: line 2, column 2 \("b"\): "\\r" after a closing quote/);
    // In the header row there are no names yet.
    expect(bad('a,"b\n')).toThrow('parseCsv: data.csv: line 1, column 2: a quoted field is never closed (missing closing quote)');
  });

  it('rejects empty text and bad delimiters', () => {
    expect(bad('')).toThrow('parseCsv: data.csv: no header row: the text is empty or only blank lines');
    expect(bad('\uFEFF\n\r\n', { header: false })).toThrow('parseCsv: data.csv: no rows: the text is empty or only blank lines');
    for (const delimiter of ['', ';;', '"', '\n']) {
      expect(bad('a\n1\n', { delimiter })).toThrow(`parseCsv: data.csv: delimiter must be one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
    }
  });

  it('checks the options before parsing, naming the function', () => {
    expect(() => parseCsv('a\n1\n', null as unknown as CsvOptions)).toThrow('parseCsv: options must be an object, got null');
    // A string was iterated character by character: 'ab' ignored columns a and b.
    expect(() => parseCsv('a,b\n1,2\n', { ignoreColumns: 'a' as unknown as string[] })).toThrow(
      "parseCsv: ignoreColumns must be an array of column names or 0-based indices, got string 'a'",
    );
    expect(() => parseCsv('a\n1\n', { labelColumn: null as unknown as string })).toThrow('parseCsv: labelColumn must be a column name or a 0-based index, got null');
    expect(() => parseCsv('a\n1\n', { header: 'no' as unknown as boolean })).toThrow("parseCsv: header must be a boolean, got string 'no'");
    expect(() => parseCsv('a\n1\n', { delimiter: 2n ** 64n as unknown as string })).toThrow(
      'parseCsv: <string>: delimiter must be one character other than a quote or a line break, got bigint 18446744073709551616n',
    );
    expect(() => parseCsv('a\n1\n', { label_column: 'a' } as CsvOptions)).toThrow("parseCsv: unknown option 'label_column'");
    expect(() => loadCsv(3 as unknown as string)).toThrow('loadCsv: source must be a file path (a string), got 3');
    expect(() => loadCsv('x.csv', null as unknown as CsvOptions)).toThrow('loadCsv: options must be an object, got null');
  });

  it('names the text <string> by default', () => {
    expect(() => parseCsv('a\nx\n')).toThrow('parseCsv: <string>: line 2, column 1 ("a"): "x" is not a number');
  });
});

describe('loadCsv', () => {
  it('reads a file as parseCsv reads the text, naming the path in errors', () => {
    const path = file('iris.csv', IRIS);
    const d = loadCsv(path, { labelColumn: 'species' });
    const e = parseCsv(IRIS, { labelColumn: 'species' });
    expect(Array.from(d.x.data)).toEqual(Array.from(e.x.data));
    expect(d.classes).toEqual(e.classes);
    const broken = file('broken.csv', 'a,b\n1,\n');
    expect(() => loadCsv(broken)).toThrow(`loadCsv: ${broken}: line 2, column 2 ("b"): empty value`);
    expect(() => loadCsv(broken, { name: 'data.csv' })).toThrow('loadCsv: data.csv: line 2, column 2 ("b"): empty value');
  });

  it('strips a BOM from a file', () => {
    const path = file('bom.csv', new Uint8Array([0xef, 0xbb, 0xbf, ...Buffer.from('x,y\r\n1,2\r\n')]));
    expect(loadCsv(path).featureNames).toEqual(['x', 'y']);
  });

  it('rejects files that are missing or not UTF-8', () => {
    expect(() => loadCsv(join(tmp, 'absent.csv'))).toThrow(/^loadCsv: .*absent\.csv: cannot read the file as UTF-8 text: ENOENT/);
    const latin1 = file('latin1.csv', new Uint8Array([0x61, 0x0a, 0xe9, 0x0a]));
    expect(() => loadCsv(latin1)).toThrow(/^loadCsv: .*latin1\.csv: cannot read the file as UTF-8 text: /);
  });
});

describe('CSV properties', () => {
  const quote = (s: string): string => `"${s.replaceAll('"', '""')}"`;

  it('a random float32 matrix written as CSV (random spellings, quoting, line ends) parses back exactly', () => {
    const value = fc.float({ noNaN: true, noDefaultInfinity: true }).map((v) => (v === 0 ? 0 : v));
    const cell = fc.record({
      v: value,
      spelling: fc.constantFrom('string', 'exp', 'prec9', 'plus'),
      pad: fc.boolean(),
      quoted: fc.boolean(),
    });
    const matrix = fc.integer({ min: 1, max: 5 }).chain((cols) => fc.array(fc.array(cell, { minLength: cols, maxLength: cols }), { maxLength: 8 }).map((r) => ({ cols, r })));
    fc.assert(
      fc.property(matrix, fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.boolean(), fc.constantFrom(',', ';', '\t'), ({ cols, r }, eol, finalEol, bom, delimiter) => {
        const spell = ({ v, spelling, pad, quoted }: (typeof r)[number][number]): string => {
          let s = spelling === 'exp' ? v.toExponential() : spelling === 'prec9' ? v.toPrecision(9) : String(v);
          if (spelling === 'plus' && v >= 0) s = `+${s}`;
          if (pad) s = ` ${s} `;
          return quoted ? quote(s) : s;
        };
        const header = Array.from({ length: cols }, (_, j) => `c${j}`).join(delimiter);
        const body = r.map((row) => row.map(spell).join(delimiter));
        const text = (bom ? '\uFEFF' : '') + [header, ...body].join(eol) + (finalEol ? eol : '');
        const d = parseCsv(text, { delimiter });
        expect(d.x.shape).toEqual([r.length, cols]);
        expect(Array.from(d.x.data)).toEqual(r.flat().map((c) => c.v));
      }),
      { numRuns: 300 },
    );
  });

  it('random text labels with quotes, delimiters and line breaks come back through classes', () => {
    const piece = fc.constantFrom('a', 'B', ',', '"', '""', '\n', '\r\n', ' ', '\t', 'é', '🙂', '1', '.');
    const label = fc.array(piece, { maxLength: 6 }).map((p) => `L${p.join('')}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.float({ noNaN: true, noDefaultInfinity: true }), label), { maxLength: 10 }), (data) => {
        const needsQuotes = (s: string): boolean => /[",\r\n]/.test(s);
        const text = ['x,label', ...data.map(([v, l]) => `${String(v)},${needsQuotes(l) ? quote(l) : l}`)].join('\n');
        const d = parseCsv(text, { labelColumn: 'label' });
        const expected = data.map(([, l]) => l.replace(/[ \t]+$/, ''));
        expect(d.classes).toEqual([...new Set(expected)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
        expect(Array.from(d.y!.data, (k) => d.classes[k])).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
