import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EpochLog, HistoryLike } from '../src/train/history.js';
import { functionChart, historyChart, writeSvg } from '../src/train/plot.js';

// A small, strict XML well-formedness checker (no parser is installed and none may be added).
// It builds a tree so the tests can look at the chart's structure rather than at substrings.
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

function decode(raw: string, where: string): string {
  if (/[<]/.test(raw)) throw new Error(`raw '<' in ${where}`);
  return raw.replace(/&([^;]*);|&/g, (m, ent: string | undefined) => {
    if (ent === undefined) throw new Error(`bare '&' in ${where}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (ent in named) return named[ent]!;
    const code = /^#x([0-9a-f]+)$/i.exec(ent) ? parseInt(ent.slice(2), 16) : /^#[0-9]+$/.test(ent) ? parseInt(ent.slice(1), 10) : NaN;
    if (!Number.isFinite(code)) throw new Error(`unknown entity ${m} in ${where}`);
    return String.fromCodePoint(code);
  });
}

function parseXml(src: string): XmlElement {
  let i = 0;
  const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) throw new Error(`expected a name at ${i}: ${JSON.stringify(src.slice(i, i + 30))}`);
    i += m[0].length;
    return m[0];
  };
  const skipWs = () => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const skipMisc = () => {
    for (;;) {
      skipWs();
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i);
        if (end < 0) throw new Error('unterminated comment');
        i = end + 3;
      } else return;
    }
  };
  if (src.startsWith('<?xml', i)) {
    const end = src.indexOf('?>', i);
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  skipMisc();
  const parseElement = (): XmlElement => {
    if (src[i] !== '<') throw new Error(`expected '<' at ${i}`);
    i++;
    const el: XmlElement = { name: readName(), attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      skipWs();
      if (src.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      if (i === before) throw new Error(`expected whitespace before attribute at ${i} in <${el.name}>`);
      const attr = readName();
      if (attr in el.attrs) throw new Error(`duplicate attribute ${attr} on <${el.name}>`);
      skipWs();
      if (src[i] !== '=') throw new Error(`expected '=' after ${attr} on <${el.name}>`);
      i++;
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${attr} on <${el.name}>`);
      const end = src.indexOf(q, i + 1);
      if (end < 0) throw new Error(`unterminated attribute ${attr}`);
      el.attrs[attr] = decode(src.slice(i + 1, end), `attribute ${attr} of <${el.name}>`);
      i = end + 1;
    }
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt < 0) throw new Error(`<${el.name}> is never closed`);
      el.text += decode(src.slice(i, lt), `text of <${el.name}>`);
      i = lt;
      if (src.startsWith('</', i)) {
        i += 2;
        const name = readName();
        if (name !== el.name) throw new Error(`</${name}> closes <${el.name}>`);
        skipWs();
        if (src[i] !== '>') throw new Error(`expected '>' closing </${name}>`);
        i++;
        return el;
      }
      if (src.startsWith('<!--', i)) {
        skipMisc();
        continue;
      }
      el.children.push(parseElement());
    }
  };
  const root = parseElement();
  skipMisc();
  if (i !== src.length) throw new Error(`content after the root element at ${i}`);
  return root;
}

function all(el: XmlElement, pred: (e: XmlElement) => boolean, acc: XmlElement[] = []): XmlElement[] {
  if (pred(el)) acc.push(el);
  for (const c of el.children) all(c, pred, acc);
  return acc;
}

const hasClass = (e: XmlElement, c: string) => (e.attrs.class ?? '').split(/\s+/).includes(c);
const seriesPaths = (root: XmlElement) => all(root, (e) => e.name === 'path' && hasClass(e, 'series'));
const pathOf = (root: XmlElement, name: string) => {
  const found = seriesPaths(root).filter((p) => p.attrs['data-series'] === name);
  expect(found, `one path for series ${name}`).toHaveLength(1);
  return found[0]!;
};
/** Points drawn by a path: every M or L command places one (d3's linear curve emits no others but Z). */
const pointCount = (d: string) => (d.match(/[ML]/g) ?? []).length;
const segmentCount = (d: string) => (d.match(/M/g) ?? []).length;
const markersOf = (root: XmlElement, name: string) =>
  all(root, (e) => hasClass(e, 'markers') && e.attrs['data-series'] === name).flatMap((g) => g.children.filter((c) => c.name === 'circle'));
const texts = (root: XmlElement, ...classes: string[]) => all(root, (e) => e.name === 'text' && classes.every((c) => hasClass(e, c))).map((e) => e.text);
const xTickLabels = (root: XmlElement) => texts(root, 'tick', 'x');
const yTickLabels = (root: XmlElement) => texts(root, 'tick', 'y');
const inPanel = (root: XmlElement, id: string) => {
  const p = all(root, (e) => hasClass(e, 'panel') && e.attrs['data-panel'] === id);
  expect(p, `panel ${id}`).toHaveLength(1);
  return p[0]!;
};

function epoch(e: number, loss: number, extra: Partial<EpochLog> = {}): EpochLog {
  return { epoch: e, loss, metrics: {}, valMetrics: {}, lr: 0.01, seconds: 1, samplesPerSecond: 100, ...extra };
}

function typical(n: number): HistoryLike {
  const epochs = Array.from({ length: n }, (_, i) =>
    epoch(i + 1, 2 / (i + 1), {
      valLoss: 2.2 / (i + 1),
      metrics: { accuracy: 0.5 + 0.08 * i },
      valMetrics: { accuracy: 0.45 + 0.08 * i },
    }),
  );
  return { epochs, bestEpoch: 3 };
}

describe('the XML checker itself', () => {
  it('rejects what a browser would reject', () => {
    expect(() => parseXml('<a><b></a>')).toThrow();
    expect(() => parseXml('<a x="1" x="2"/>')).toThrow();
    expect(() => parseXml('<a>x & y</a>')).toThrow();
    expect(() => parseXml('<a t="<"/>')).toThrow();
    expect(() => parseXml('<a/><b/>')).toThrow();
    expect(parseXml('<?xml version="1.0"?>\n<a k="&lt;&amp;"><b>t&gt;</b></a>\n').children[0]!.text).toBe('t>');
  });
});

describe('historyChart', () => {
  it('is a standalone SVG document with white background, both panels, and one path per series', () => {
    const svg = historyChart(typical(5), { title: 'run 1' });
    const root = parseXml(svg);
    expect(root.name).toBe('svg');
    expect(root.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    expect(root.attrs.viewBox).toBe('0 0 960 400');
    expect(root.attrs.width).toBe('960');
    expect(root.attrs.height).toBe('400');
    expect(root.attrs['font-family']).toMatch(/sans-serif/);
    expect(root.children.some((c) => c.name === 'rect' && c.attrs.fill === '#ffffff' && c.attrs.width === '960')).toBe(true);
    expect(all(root, (e) => e.name === 'title')[0]!.text).toBe('run 1');

    const names = seriesPaths(root).map((p) => p.attrs['data-series']);
    expect(names).toEqual(['train loss', 'validation loss', 'train accuracy', 'validation accuracy']);
    for (const name of names) {
      const d = pathOf(root, name!).attrs.d!;
      expect(pointCount(d)).toBe(5);
      expect(segmentCount(d)).toBe(1);
      expect(markersOf(root, name!)).toHaveLength(5);
    }
    expect(pathOf(root, 'train loss').attrs.stroke).not.toBe(pathOf(root, 'validation loss').attrs.stroke);
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('labels the axes, puts epochs on x and shows accuracy as percentages', () => {
    const root = parseXml(historyChart(typical(5)));
    const loss = inPanel(root, 'loss');
    const metrics = inPanel(root, 'metrics');
    expect(texts(loss, 'label')).toEqual(['epoch', 'loss']);
    expect(texts(metrics, 'label')).toEqual(['epoch', 'accuracy']);
    const xTicks = xTickLabels(loss);
    expect(xTicks).toContain('1');
    expect(xTicks).toContain('5');
    for (const t of xTicks) expect(Number.isInteger(Number(t))).toBe(true);
    const lossY = yTickLabels(loss);
    expect(lossY.length).toBeGreaterThanOrEqual(3);
    for (const t of lossY) expect(t).toMatch(/^−?[0-9.]+$/);
    const accY = texts(metrics, 'tick').filter((t) => t.endsWith('%'));
    expect(accY.length).toBeGreaterThanOrEqual(3);
    expect(texts(metrics, 'tick').filter((t) => !/^\d+$/.test(t) && !t.endsWith('%'))).toEqual([]);
  });

  it('shows a proportion-named metric as a plain number when it leaves [0, 1], and other metrics never as %', () => {
    const h: HistoryLike = {
      epochs: [epoch(1, 1, { metrics: { mae: 0.4 } }), epoch(2, 0.5, { metrics: { mae: 0.2 } })],
    };
    expect(texts(inPanel(parseXml(historyChart(h)), 'metrics'), 'tick').some((t) => t.endsWith('%'))).toBe(false);
    const odd: HistoryLike = {
      epochs: [epoch(1, 1, { metrics: { accuracy: 12 } }), epoch(2, 0.5, { metrics: { accuracy: 40 } })],
    };
    expect(texts(inPanel(parseXml(historyChart(odd)), 'metrics'), 'tick').some((t) => t.endsWith('%'))).toBe(false);
  });

  it('marks the best epoch in both panels and lists it in the legend', () => {
    const root = parseXml(historyChart(typical(5)));
    for (const id of ['loss', 'metrics']) {
      const panel = inPanel(root, id);
      const best = all(panel, (e) => e.name === 'line' && hasClass(e, 'best'));
      expect(best).toHaveLength(1);
      // The marker sits at epoch 3: the x of the third point of the train series.
      const d = all(panel, (e) => hasClass(e, 'series'))[0]!.attrs.d!;
      const x3 = Number(/^M[^L]*L[^L]*L([-\d.]+),/.exec(d)![1]);
      expect(Number(best[0]!.attrs.x1)).toBeCloseTo(x3, 1);
      expect(texts(panel)).toContain('best epoch (3)');
    }
    const none = parseXml(historyChart({ ...typical(5), bestEpoch: null }));
    expect(all(none, (e) => hasClass(e, 'best'))).toEqual([]);
    const outside = parseXml(historyChart({ ...typical(5), bestEpoch: 9 }));
    expect(all(outside, (e) => hasClass(e, 'best'))).toEqual([]);
  });

  it('keeps the legend out of the plot area', () => {
    const root = parseXml(historyChart(typical(5), { width: 400, height: 300 }));
    for (const id of ['loss', 'metrics']) {
      const panel = inPanel(root, id);
      const axis = all(panel, (e) => hasClass(e, 'axis'))[0]!;
      const plotTop = Math.min(...axis.children.map((l) => Math.min(Number(l.attrs.y1), Number(l.attrs.y2))));
      const legend = all(panel, (e) => hasClass(e, 'legend'))[0]!;
      const legendBottom = Math.max(
        ...legend.children.map((c) => (c.name === 'text' ? Number(c.attrs.y) + 4 : c.name === 'circle' ? Number(c.attrs.cy) + Number(c.attrs.r) : Math.max(Number(c.attrs.y1), Number(c.attrs.y2)))),
      );
      expect(legendBottom).toBeLessThanOrEqual(plotTop);
      // A narrow panel wraps the legend onto several rows rather than running past the panel.
      expect(new Set(legend.children.filter((c) => c.name === 'text').map((c) => c.attrs.y)).size).toBeGreaterThan(1);
    }
  });

  it('skips NaN and infinite losses, splitting the line there', () => {
    const losses = [1, NaN, 0.8, Infinity, 0.6, 0.5];
    const root = parseXml(historyChart({ epochs: losses.map((l, i) => epoch(i + 1, l)) }));
    const d = pathOf(root, 'train loss').attrs.d!;
    expect(pointCount(d)).toBe(4);
    expect(segmentCount(d)).toBe(3);
    expect(markersOf(root, 'train loss')).toHaveLength(4);
    expect(d).not.toMatch(/NaN|Infinity/);
    // The infinite value must not have stretched the y axis.
    const yTicks = yTickLabels(root).map(Number);
    expect(Math.max(...yTicks)).toBeLessThanOrEqual(1.2);
  });

  it('bridges epochs where validation did not run', () => {
    const epochs = [1, 2, 3, 4, 5].map((e) => epoch(e, 1 / e, e % 2 === 1 ? { valLoss: 1.1 / e } : {}));
    const d = pathOf(parseXml(historyChart({ epochs })), 'validation loss').attrs.d!;
    expect(pointCount(d)).toBe(3);
    expect(segmentCount(d)).toBe(1);
  });

  it('draws a single epoch as one point on a non-degenerate axis', () => {
    const svg = historyChart({ epochs: [epoch(1, 0.7, { metrics: { accuracy: 1 }, valMetrics: { accuracy: 1 } })], bestEpoch: 1 });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const root = parseXml(svg);
    const d = pathOf(root, 'train loss').attrs.d!;
    expect(pointCount(d)).toBe(1);
    expect(xTickLabels(inPanel(root, 'loss'))).toEqual(['1']);
    const [c] = markersOf(root, 'train loss');
    const axis = all(inPanel(root, 'loss'), (e) => hasClass(e, 'axis'))[0]!.children[0]!;
    expect(Number(c!.attrs.cx)).toBeGreaterThan(Number(axis.attrs.x1));
    expect(Number(c!.attrs.cx)).toBeLessThan(Number(axis.attrs.x2));
    expect(new Set(yTickLabels(inPanel(root, 'loss'))).size).toBeGreaterThan(2);
  });

  it('pads a constant series so the y axis still has a range', () => {
    const root = parseXml(historyChart({ epochs: [1, 2, 3].map((e) => epoch(e, 0.5)) }));
    const yTicks = yTickLabels(root).map(Number);
    expect(yTicks.length).toBeGreaterThan(2);
    expect(Math.min(...yTicks)).toBeLessThan(0.5);
    expect(Math.max(...yTicks)).toBeGreaterThan(0.5);
    const ys = pathOf(root, 'train loss').attrs.d!.match(/[-\d.]+(?=[LMZ]|$)/g)!.map(Number);
    expect(new Set(ys).size).toBe(1);
  });

  it('without validation or metrics draws only the training loss, full width', () => {
    const root = parseXml(historyChart({ epochs: [1, 2, 3].map((e) => epoch(e, 1 / e)) }));
    expect(seriesPaths(root).map((p) => p.attrs['data-series'])).toEqual(['train loss']);
    expect(all(root, (e) => hasClass(e, 'panel')).map((p) => p.attrs['data-panel'])).toEqual(['loss']);
    expect(texts(root).some((t) => t.includes('validation'))).toBe(false);
  });

  it('gives each metric a train and a validation series, told apart by dash pattern', () => {
    const epochs = [1, 2].map((e) => epoch(e, 1 / e, { metrics: { accuracy: 0.5, f1: 0.4 }, valMetrics: { accuracy: 0.4, f1: 0.3 } }));
    const root = parseXml(historyChart({ epochs }));
    expect(texts(inPanel(root, 'metrics'), 'heading')).toEqual(['Metrics']);
    const acc = pathOf(root, 'train accuracy');
    const f1 = pathOf(root, 'train f1');
    expect(acc.attrs.stroke).toBe(f1.attrs.stroke);
    expect(acc.attrs['stroke-dasharray']).not.toBe(f1.attrs['stroke-dasharray']);
    expect(pathOf(root, 'validation f1').attrs.stroke).not.toBe(f1.attrs.stroke);
  });

  it('leaves markers off long histories but keeps every point on the line', () => {
    const root = parseXml(historyChart({ epochs: Array.from({ length: 150 }, (_, i) => epoch(i + 1, 1 / (i + 1))) }));
    expect(pointCount(pathOf(root, 'train loss').attrs.d!)).toBe(150);
    expect(markersOf(root, 'train loss')).toEqual([]);
    for (const t of xTickLabels(root)) expect(Number.isInteger(Number(t))).toBe(true);
  });

  it('escapes the title and metric names', () => {
    const epochs = [1, 2].map((e) => epoch(e, 1 / e, { metrics: { '<a&b>': 0.5 } }));
    const svg = historyChart({ epochs }, { title: 'x < y & "z"' });
    expect(svg).not.toContain('<a&b>');
    const root = parseXml(svg);
    expect(texts(root, 'title')).toEqual(['x < y & "z"']);
    expect(pathOf(root, 'train <a&b>').attrs.d).toBeTruthy();
    expect(texts(root)).toContain('train <a&b>');
  });

  it('refuses an empty history, bad epochs and unusable sizes with clear messages', () => {
    expect(() => historyChart({ epochs: [] })).toThrow(/^historyChart: the history has no epochs/);
    expect(() => historyChart({ epochs: [epoch(NaN, 1)] })).toThrow(/^historyChart: epochs\[0\]\.epoch is NaN/);
    expect(() => historyChart(typical(2), { width: 10 })).toThrow('historyChart: width must be a number of pixels in [240, 16384], got 10');
    expect(() => historyChart(typical(2), { height: NaN })).toThrow(/^historyChart: height/);
  });

  it('refuses junk histories, epochs and options, naming the field', () => {
    const junk = (v: unknown) => v as never;
    expect(() => historyChart(junk(null))).toThrow('historyChart: expected a history with an epochs array (what fit() returns), got null');
    expect(() => historyChart({ epochs: [junk(3)] })).toThrow('historyChart: epochs[0] must be an epoch log object { epoch, loss, metrics, … }, got 3');
    expect(() => historyChart({ epochs: [epoch(1, junk('0.5'))] })).toThrow("historyChart: epochs[0].loss is string '0.5', expected a number");
    expect(() => historyChart({ epochs: [epoch(1, 1, { metrics: junk({ accuracy: '1' }) })] })).toThrow("historyChart: epochs[0].metrics.accuracy is string '1', expected a number");
    expect(() => historyChart({ epochs: [epoch(1, 1)], bestEpoch: junk('1') })).toThrow("historyChart: bestEpoch must be a number or null, got string '1'");
    expect(() => historyChart(typical(2), junk(null))).toThrow('historyChart: options must be an object, got null');
    expect(() => historyChart(typical(2), { title: junk({}) })).toThrow('historyChart: title must be a string, got Object');
    expect(() => historyChart(typical(2), junk({ xLabel: 'x' }))).toThrow("historyChart: unknown option 'xLabel'");
  });

  it('refuses sizes a browser cannot show (1e9 pixels used to hang building ticks)', () => {
    expect(() => historyChart(typical(2), { width: 1e9 })).toThrow('historyChart: width must be a number of pixels in [240, 16384], got 1000000000');
    expect(() => historyChart(typical(2), { height: 1e300 })).toThrow('historyChart: height must be a number of pixels in [180, 16384], got 1e+300');
    expect(() => historyChart(typical(2), { width: Infinity })).toThrow(/^historyChart: width must be a number of pixels/);
    const root = parseXml(historyChart(typical(2), { width: 16384, height: 16384 }));
    expect(root.attrs.width).toBe('16384');
  });

  it('draws epochs and losses too close together for float ticks (subnormal values) without hanging', () => {
    const tiny = [epoch(5e-324, 3e-323), epoch(1e-323, 8e-323)];
    const svg = historyChart({ epochs: tiny });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const root = parseXml(svg);
    expect(yTickLabels(root).length).toBeGreaterThan(1);
  });
});

describe('functionChart', () => {
  const n = 50;
  const x = Float32Array.from({ length: n }, (_, i) => -3 + (6 * i) / (n - 1));
  const target = x.map(Math.sin);

  it('draws the target and each prediction over every x, in distinct colours, with a legend', () => {
    const svg = functionChart(
      {
        x,
        target,
        predictions: { small: x.map((v) => 0.9 * Math.sin(v)), big: x.map((v) => Math.sin(v) + 0.01) },
        trainPoints: { x: [-2, 0, 1.5], y: [-0.9, 0.1, 1] },
      },
      { title: 'sin', xLabel: 'input', yLabel: 'output' },
    );
    expect(svg).not.toMatch(/NaN|Infinity/);
    const root = parseXml(svg);
    const paths = seriesPaths(root);
    expect(paths.map((p) => p.attrs['data-series'])).toEqual(['target', 'small', 'big']);
    for (const p of paths) {
      expect(pointCount(p.attrs.d!)).toBe(n);
      expect(segmentCount(p.attrs.d!)).toBe(1);
    }
    expect(new Set(paths.map((p) => p.attrs.stroke)).size).toBe(3);
    expect(markersOf(root, 'train points')).toHaveLength(3);
    expect(all(root, (e) => hasClass(e, 'series') && e.attrs['data-series'] === 'train points')).toEqual([]);
    expect(texts(root, 'label')).toEqual(['input', 'output']);
    const legend = texts(all(root, (e) => hasClass(e, 'legend'))[0]!);
    expect(legend).toEqual(['target', 'small', 'big', 'train points']);
    expect(xTickLabels(root).length).toBeGreaterThanOrEqual(3);
    expect(yTickLabels(root).length).toBeGreaterThanOrEqual(3);
  });

  it('draws lines in order of x when x is shuffled', () => {
    const xs = [2, -1, 0, 1, -2];
    const d = pathOf(parseXml(functionChart({ x: xs, target: xs.map((v) => v * v), predictions: {} })), 'target').attrs.d!;
    const px = [...d.matchAll(/[ML]([-\d.]+),/g)].map((m) => Number(m[1]));
    expect(px).toHaveLength(5);
    expect([...px].sort((a, b) => a - b)).toEqual(px);
  });

  it('escapes series names and skips NaN predictions', () => {
    const bad = Array.from(target, (v, i) => (i === 10 ? NaN : v));
    const svg = functionChart({ x, target, predictions: { '<a&b>': bad } });
    expect(svg).not.toContain('<a&b>');
    const root = parseXml(svg);
    const d = pathOf(root, '<a&b>').attrs.d!;
    expect(pointCount(d)).toBe(n - 1);
    expect(segmentCount(d)).toBe(2);
    expect(texts(root)).toContain('<a&b>');
  });

  it('handles a single x and a constant target', () => {
    const svg = functionChart({ x: [3], target: [2], predictions: { p: [2] } });
    expect(svg).not.toMatch(/NaN|Infinity/);
    const root = parseXml(svg);
    expect(pointCount(pathOf(root, 'p').attrs.d!)).toBe(1);
    expect(xTickLabels(root).length).toBeGreaterThan(1);
    expect(yTickLabels(root).length).toBeGreaterThan(1);
  });

  it('refuses mismatched lengths and empty input', () => {
    expect(() => functionChart({ x: [], target: [], predictions: {} })).toThrow(/^functionChart: x is empty/);
    expect(() => functionChart({ x: [1, 2], target: [1], predictions: {} })).toThrow(/^functionChart: target has 1 values, x has 2/);
    expect(() => functionChart({ x: [1, 2], target: [1, 2], predictions: { p: [1] } })).toThrow(/^functionChart: prediction "p" has 1 values, x has 2/);
    expect(() => functionChart({ x: [1], target: [1], predictions: {}, trainPoints: { x: [1, 2], y: [1] } })).toThrow(
      /^functionChart: trainPoints\.x has 2 values, trainPoints\.y has 1/,
    );
  });

  it('refuses junk data and options, naming the field', () => {
    const junk = (v: unknown) => v as never;
    expect(() => functionChart(junk(null))).toThrow('functionChart: expected { x, target, predictions }, got null');
    expect(() => functionChart({ x: junk('abc'), target: [1, 2, 3], predictions: {} })).toThrow("functionChart: x must be an array of numbers, got string 'abc'");
    expect(() => functionChart({ x: [1, junk('2')], target: [1, 2], predictions: {} })).toThrow("functionChart: x[1] must be a number, got string '2'");
    expect(() => functionChart({ x: [1, 2], target: [1, 2], predictions: { p: [1, junk(null)] } })).toThrow('functionChart: prediction "p"[1] must be a number, got null');
    expect(() => functionChart({ x: [1, 2], target: [1, 2], predictions: junk(5) })).toThrow('functionChart: predictions must be a record of name → values, got 5');
    expect(() => functionChart({ x: [1, 2], target: [1, 2], predictions: {} }, junk(null))).toThrow('functionChart: options must be an object, got null');
    expect(() => functionChart({ x: [1, 2], target: [1, 2], predictions: {} }, { yLabel: junk(3) })).toThrow('functionChart: yLabel must be a string, got 3');
  });

  it('draws subnormal, huge and nearly equal x values with finite ticks, and refuses a 1e9-pixel width instead of hanging', () => {
    const cases = [
      { x: [5.941416381103135e-102, -8e-323, -2.9999999999999942], y: [-2.5e-323, -6.4e-323, 6.736111111954796e-73] },
      { x: [-2.5e-323, -4.171029722688906e-98], y: [-8.4e-323, -4.4e-323] },
      { x: [-1.7e308, 1.7e308], y: [-1.7e308, 1.7e308] },
      { x: [1e-320, 2e-320], y: [0, 1] },
    ];
    for (const { x: cx, y } of cases) {
      const svg = functionChart({ x: cx, target: y, predictions: { model: y } });
      expect(svg).not.toMatch(/NaN|Infinity/);
      const root = parseXml(svg);
      expect(xTickLabels(root).length).toBeGreaterThan(1);
      expect(yTickLabels(root).length).toBeGreaterThan(1);
    }
    // Tick labels of a 1e-98-wide axis are written in exponent form, not as "0.00000000000000000000".
    const root = parseXml(functionChart({ x: cases[1]!.x, target: [0, 1], predictions: {} }));
    expect(xTickLabels(root).some((t) => /e-9\d/.test(t))).toBe(true);
    expect(() => functionChart({ x: cases[0]!.x, target: cases[0]!.y, predictions: {} }, { width: 1e9 })).toThrow(
      'functionChart: width must be a number of pixels in [240, 16384], got 1000000000',
    );
  });
});

describe('writeSvg', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgrad-plot-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the file whole, replaces an old one, and leaves no temporary file behind', () => {
    const path = join(dir, 'h.svg');
    writeSvg(path, 'old');
    const svg = historyChart(typical(3));
    writeSvg(path, svg);
    expect(readFileSync(path, 'utf8')).toBe(svg);
    expect(readdirSync(dir)).toEqual(['h.svg']);
  });

  it('refuses a path or contents that are not strings before touching the disk', () => {
    const junk = (v: unknown) => v as never;
    expect(() => writeSvg(junk(null), '<svg/>')).toThrow('writeSvg: path must be a non-empty string, got null');
    expect(() => writeSvg(junk(-1), '<svg/>')).toThrow('writeSvg: path must be a non-empty string, got -1');
    expect(() => writeSvg('', '<svg/>')).toThrow("writeSvg: path must be a non-empty string, got string ''");
    expect(() => writeSvg(join(dir, 'j.svg'), junk({ data: [] }))).toThrow('writeSvg: svg must be a string (what historyChart/functionChart return), got Object');
    expect(readdirSync(dir)).not.toContain('j.svg');
  });

  it('names itself and the path when the folder does not exist', () => {
    const path = join(dir, 'missing', 'h.svg');
    expect(() => writeSvg(path, '<svg/>')).toThrow(new RegExp(`^writeSvg: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  });
});
