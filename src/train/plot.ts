import { checkPath, writeFileAtomicSync } from '../io/atomic.js';
import type * as D3Scale from 'd3-scale';
import type * as D3Shape from 'd3-shape';
import { packageRequire } from '../backend/root.js';
import { requireKnownOptions } from '../ops/args.js';
import { valueStr } from '../shape.js';
import { checkEpochLog, type EpochLog, type HistoryLike } from './history.js';

type ScaleLinear<R, O> = D3Scale.ScaleLinear<R, O>;

// d3 ships only ES modules. They load with the first chart, not with the library: CommonJS code
// can only require() them synchronously, and terminating a worker while it is inside such a
// require() crashes Node 20 with a V8 fatal error (seen by test/worker-termination.test.ts).
let d3: { scale: typeof D3Scale; shape: typeof D3Shape } | undefined;
function d3Modules(): { scale: typeof D3Scale; shape: typeof D3Shape } {
  d3 ??= { scale: packageRequire('d3-scale') as typeof D3Scale, shape: packageRequire('d3-shape') as typeof D3Shape };
  return d3;
}

/** Options shared by every chart. Sizes are in CSS pixels; the SVG also carries a viewBox so it scales. */
export interface ChartOptions {
  /** Drawn centred above the panels and used as the document's `<title>`. */
  title?: string;
  /** Width in CSS pixels (historyChart default 960, functionChart 720). */
  width?: number;
  /** Height in CSS pixels (historyChart default 400, functionChart 420). */
  height?: number;
}

/** Options of {@link functionChart}: the common ones plus the axis labels. */
export interface FunctionChartOptions extends ChartOptions {
  /** The x axis's label (default 'x'). */
  xLabel?: string;
  /** The y axis's label (default 'y'). */
  yLabel?: string;
}

/** The data {@link functionChart} draws: everything indexed like `x`, except the optional training sample. */
export interface FunctionChartData {
  /** The inputs. */
  x: ArrayLike<number>;
  /** The true function at each x. */
  target: ArrayLike<number>;
  /** Legend label → the model's output at each x. */
  predictions: Record<string, ArrayLike<number>>;
  /** The training sample, drawn as hollow circles. */
  trainPoints?: {
    /** The sample's inputs. */
    x: ArrayLike<number>;
    /** The sample's targets. */
    y: ArrayLike<number>;
  };
}

// Tableau 10: colours chosen to stay distinguishable for the common colour-vision deficiencies.
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#17becf', '#7f7f7f'];
const TRAIN_COLOUR = PALETTE[0]!;
const VAL_COLOUR = PALETTE[1]!;
// In the metrics panel colour already means train vs validation, so metrics differ by dash pattern.
const DASHES = [undefined, '7 4', '2 3', '9 3 2 3', '4 4'];
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const FONT_SIZE = 12;
const LEGEND_ROW = 18;
const TITLE_BAND = 30;
const HEADING_BAND = 20;
const X_AXIS_BAND = 42;
const PAD = 12;
// Beyond this many points per series the markers merge into a thick line, so only the line is drawn.
const MAX_MARKERS = 100;
// Names that are proportions; such a metric is drawn as a percentage when its values lie in [0, 1].
const PROPORTION_NAME = /acc|precision|recall|f1|auc|iou|dice|jaccard/i;
// The largest chart side browsers reliably render (their canvas limit); larger sizes are refused
// rather than drawn, since tick counts and the file grow with them.
const MAX_SIDE = 16384;
// d3's ticks step in powers of ten: a span under ~1e-307 (subnormal data) overflows 10^-power and
// the tick array's length with it, a span past the largest double gives NaN ticks. Domains are
// kept inside these bounds: values closer than MIN_SPAN draw as one level, beyond MAX_ABS at the edge.
const MIN_SPAN = 1e-290;
const MAX_ABS = 1e300;

interface Point {
  x: number;
  y: number;
}

interface Series {
  name: string;
  colour: string;
  dash?: string | undefined;
  strokeWidth: number;
  /** 'line' draws a path (and markers when `markers`); 'points' draws hollow circles only. */
  kind: 'line' | 'points';
  markers: boolean;
  points: Point[];
}

interface PanelSpec {
  id: string;
  heading?: string | undefined;
  xLabel: string;
  yLabel: string;
  series: Series[];
  integerX: boolean;
  percentY: boolean;
  vline?: { x: number; label: string } | undefined;
}

interface LegendItem {
  label: string;
  colour: string;
  dash?: string | undefined;
  kind: 'line' | 'points' | 'vline';
  marker: boolean;
  dx: number;
  row: number;
}

/**
 * Loss (and each metric present, e.g. accuracy) per epoch, train vs validation: two panels side by
 * side (loss | metrics), lines with point markers, legend, axis labels, the best epoch marked when
 * given. Returns a standalone SVG document string.
 *
 * Validation values missing from an epoch (validation run every few epochs) are bridged by the
 * line; NaN or infinite values (a diverged run) leave a gap. Without any metric the loss panel
 * takes the whole width.
 * @param history - what fit() returns (or any `{ epochs, bestEpoch? }`)
 * @param options - title, width, height
 * @example
 * ```ts
 * const history = await fit(model, { train, validation, epochs: 20 });
 * writeSvg('curves.svg', historyChart(history, { title: 'digits' }));
 * ```
 */
export function historyChart(history: HistoryLike, options: ChartOptions = {}): string {
  const fn = 'historyChart';
  if (history === null || typeof history !== 'object' || !Array.isArray(history.epochs)) {
    throw new Error(`${fn}: expected a history with an epochs array (what fit() returns), got ${valueStr(history)}`);
  }
  if (history.epochs.length === 0) throw new Error(`${fn}: the history has no epochs, nothing to draw`);
  const epochs = [...history.epochs];
  epochs.forEach((e, i) => checkEpochLog(fn, e, `epochs[${i}]`));
  const bestEpoch: unknown = history.bestEpoch;
  if (bestEpoch !== undefined && bestEpoch !== null && typeof bestEpoch !== 'number') {
    throw new Error(`${fn}: bestEpoch must be a number or null, got ${valueStr(bestEpoch)}`);
  }
  checkOptions(fn, options, []);
  epochs.sort((a, b) => a.epoch - b.epoch);
  const { width, height } = size(fn, options, 960, 400);

  const lossSeries: Series[] = [];
  const pick = (get: (e: EpochLog) => number | undefined): Point[] =>
    epochs.flatMap((e) => {
      const v = get(e);
      return v === undefined || v === null ? [] : [{ x: e.epoch, y: v }];
    });
  lossSeries.push(historySeries('train loss', TRAIN_COLOUR, undefined, pick((e) => e.loss)));
  const valLoss = pick((e) => e.valLoss);
  if (valLoss.length > 0) lossSeries.push(historySeries('validation loss', VAL_COLOUR, undefined, valLoss));

  const metricNames: string[] = [];
  for (const e of epochs) {
    for (const k of [...Object.keys(e.metrics ?? {}), ...Object.keys(e.valMetrics ?? {})]) {
      if (!metricNames.includes(k)) metricNames.push(k);
    }
  }
  const metricSeries: Series[] = [];
  metricNames.forEach((name, i) => {
    const dash = DASHES[i % DASHES.length];
    const train = pick((e) => e.metrics?.[name]);
    const val = pick((e) => e.valMetrics?.[name]);
    if (train.length > 0) metricSeries.push(historySeries(`train ${name}`, TRAIN_COLOUR, dash, train));
    if (val.length > 0) metricSeries.push(historySeries(`validation ${name}`, VAL_COLOUR, dash, val));
  });
  const percentY =
    metricNames.length > 0 &&
    metricNames.every((n) => PROPORTION_NAME.test(n)) &&
    metricSeries.every((s) => s.points.every((p) => !Number.isFinite(p.y) || (p.y >= 0 && p.y <= 1)));

  const best = history.bestEpoch;
  const first = epochs[0]!.epoch;
  const last = epochs[epochs.length - 1]!.epoch;
  const vline = typeof best === 'number' && best >= first && best <= last ? { x: best, label: `best epoch (${best})` } : undefined;

  const panels: PanelSpec[] = [
    { id: 'loss', heading: 'Loss', xLabel: 'epoch', yLabel: 'loss', series: lossSeries, integerX: true, percentY: false, vline },
  ];
  if (metricSeries.length > 0) {
    const single = metricNames.length === 1 ? metricNames[0]! : undefined;
    panels.push({
      id: 'metrics',
      heading: single === undefined ? 'Metrics' : headingFor(single),
      xLabel: 'epoch',
      yLabel: single ?? (percentY ? 'score' : 'value'),
      series: metricSeries,
      integerX: true,
      percentY,
      vline,
    });
  }
  return document(width, height, options.title, panels);
}

/**
 * A 1-D function fit: the target as a line (or points) and one or more predictions as lines over
 * the same x, with a legend. The optional `trainPoints` (the sample the model saw) are drawn as
 * hollow circles. Lines are drawn in order of x, so `x` need not be sorted.
 * @param data - x, target, predictions by name, optional trainPoints
 * @param options - title, width, height, xLabel, yLabel
 */
export function functionChart(data: FunctionChartData, options: FunctionChartOptions = {}): string {
  const fn = 'functionChart';
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new Error(`${fn}: expected { x, target, predictions }, got ${valueStr(data)}`);
  checkValues(fn, 'x', data.x);
  checkValues(fn, 'target', data.target);
  const n = data.x.length;
  if (n === 0) throw new Error(`${fn}: x is empty, nothing to draw`);
  if (data.target.length !== n) throw new Error(`${fn}: target has ${data.target.length} values, x has ${n}`);
  const preds: unknown = data.predictions ?? {};
  if (preds === null || typeof preds !== 'object' || Array.isArray(preds)) throw new Error(`${fn}: predictions must be a record of name → values, got ${valueStr(preds)}`);
  const predictions = Object.entries(preds as Record<string, ArrayLike<number>>);
  for (const [name, ys] of predictions) {
    if (!ys || ys.length !== n) throw new Error(`${fn}: prediction "${name}" has ${ys ? ys.length : 'no'} values, x has ${n}`);
    checkValues(fn, `prediction "${name}"`, ys);
  }
  const train: unknown = data.trainPoints;
  if (train !== undefined) {
    if (train === null || typeof train !== 'object') throw new Error(`${fn}: trainPoints must be { x, y }, got ${valueStr(train)}`);
    checkValues(fn, 'trainPoints.x', (train as { x?: unknown }).x);
    checkValues(fn, 'trainPoints.y', (train as { y?: unknown }).y);
  }
  checkOptions(fn, options, ['xLabel', 'yLabel']);
  const { width, height } = size(fn, options, 720, 420);

  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => data.x[a]! - data.x[b]!);
  const along = (ys: ArrayLike<number>): Point[] => order.map((i) => ({ x: data.x[i]!, y: ys[i]! }));
  const series: Series[] = [
    { name: 'target', colour: '#222222', strokeWidth: 2.5, kind: 'line', markers: false, points: along(data.target) },
  ];
  // The first palette colour stays for predictions; grey is kept for the training sample.
  predictions.forEach(([name, ys], i) => {
    series.push({ name, colour: PALETTE[i % (PALETTE.length - 1)]!, strokeWidth: 2, kind: 'line', markers: false, points: along(ys) });
  });
  if (data.trainPoints) {
    const { x, y } = data.trainPoints;
    if (x.length !== y.length) throw new Error(`${fn}: trainPoints.x has ${x.length} values, trainPoints.y has ${y.length}`);
    const points = Array.from({ length: x.length }, (_, i) => ({ x: x[i]!, y: y[i]! }));
    series.push({ name: 'train points', colour: PALETTE[PALETTE.length - 1]!, strokeWidth: 1.5, kind: 'points', markers: true, points });
  }
  const panel: PanelSpec = {
    id: 'function',
    xLabel: options.xLabel ?? 'x',
    yLabel: options.yLabel ?? 'y',
    series,
    integerX: false,
    percentY: false,
  };
  return document(width, height, options.title, [panel]);
}

/**
 * Writes an SVG string to a file atomically (temp file + rename in the same folder), so a browser
 * or file watcher never sees half a chart when it is rewritten every epoch.
 * @param path - the file to write
 * @param svg - the SVG document (from historyChart or functionChart)
 */
export function writeSvg(path: string, svg: string): void {
  checkPath('writeSvg', path);
  if (typeof svg !== 'string') throw new Error(`writeSvg: svg must be a string (what historyChart/functionChart return), got ${valueStr(svg)}`);
  writeFileAtomicSync(path, [Buffer.from(svg, 'utf8')], 'writeSvg');
}

/** Values to plot: an array or typed array of numbers (NaN and ±Infinity are allowed: they leave gaps). */
function checkValues(fn: string, what: string, v: unknown): asserts v is ArrayLike<number> {
  const typed = ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
  if (!Array.isArray(v) && !typed) throw new Error(`${fn}: ${what} must be an array of numbers, got ${valueStr(v)}`);
  if (typed) return;
  (v as unknown[]).forEach((x, i) => {
    if (typeof x !== 'number') throw new Error(`${fn}: ${what}[${i}] must be a number, got ${valueStr(x)}`);
  });
}

/** The options object of a chart: title (and the labels, where `labels` names them) must be strings. */
function checkOptions(fn: string, options: unknown, labels: readonly string[]): asserts options is ChartOptions {
  const o = requireKnownOptions(fn, options, ['title', 'width', 'height', ...labels]);
  for (const [k, v] of Object.entries(o)) {
    if (k !== 'width' && k !== 'height' && v !== undefined && typeof v !== 'string') throw new Error(`${fn}: ${k} must be a string, got ${valueStr(v)}`);
  }
}

// Short names are acronyms (mae, auc, f1) more often than words.
function headingFor(name: string): string {
  return name.length <= 3 ? name.toUpperCase() : name.charAt(0).toUpperCase() + name.slice(1);
}

function historySeries(name: string, colour: string, dash: string | undefined, points: Point[]): Series {
  return { name, colour, dash, strokeWidth: 2, kind: 'line', markers: points.length <= MAX_MARKERS, points };
}

function size(fn: string, options: ChartOptions, defaultWidth: number, defaultHeight: number): { width: number; height: number } {
  const width = options.width ?? defaultWidth;
  const height = options.height ?? defaultHeight;
  // Below these the margins, legend and tick labels leave no room for the plot itself.
  if (typeof width !== 'number' || !(width >= 240 && width <= MAX_SIDE)) {
    throw new Error(`${fn}: width must be a number of pixels in [240, ${MAX_SIDE}], got ${valueStr(width)}`);
  }
  if (typeof height !== 'number' || !(height >= 180 && height <= MAX_SIDE)) {
    throw new Error(`${fn}: height must be a number of pixels in [180, ${MAX_SIDE}], got ${valueStr(height)}`);
  }
  return { width, height };
}

/** Renders the panels side by side under an optional title, as one standalone SVG document. */
function document(width: number, height: number, title: string | undefined, panels: PanelSpec[]): string {
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" ` +
      `font-family="${esc(FONT)}" font-size="${FONT_SIZE}">`,
  );
  if (title) out.push(`<title>${esc(title)}</title>`);
  out.push(`<rect x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`);
  let top = PAD;
  if (title) {
    out.push(`<text class="title" x="${num(width / 2)}" y="${num(top + 16)}" text-anchor="middle" font-size="16" font-weight="600" fill="#111111">${esc(title)}</text>`);
    top += TITLE_BAND;
  }
  const panelWidth = (width - PAD) / panels.length;
  // The same legend band height in every panel keeps their plot areas level.
  const legends = panels.map((p) => layoutLegend(legendItems(p), panelWidth - PAD - LEGEND_INDENT));
  const legendRows = Math.max(...legends.map((l) => l.rows));
  panels.forEach((p, i) => {
    renderPanel(out, p, legends[i]!.items, {
      left: PAD + i * panelWidth,
      top,
      width: panelWidth - PAD,
      height: height - top - 4,
      legendRows,
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function legendItems(p: PanelSpec): Omit<LegendItem, 'dx' | 'row'>[] {
  const items: Omit<LegendItem, 'dx' | 'row'>[] = p.series.map((s) => ({
    label: s.name,
    colour: s.colour,
    dash: s.dash,
    kind: s.kind,
    marker: s.markers,
  }));
  if (p.vline) items.push({ label: p.vline.label, colour: '#666666', dash: '4 3', kind: 'vline', marker: false });
  return items;
}

const SWATCH = 24;
// The legend lines up with the panel heading rather than the plot, so its width is known before the y ticks are.
const LEGEND_INDENT = 4;

/** Flows legend items into rows no wider than `available`, like words in a paragraph. */
function layoutLegend(items: Omit<LegendItem, 'dx' | 'row'>[], available: number): { items: LegendItem[]; rows: number } {
  const placed: LegendItem[] = [];
  let row = 0;
  let dx = 0;
  for (const item of items) {
    const w = SWATCH + 6 + textWidth(item.label, FONT_SIZE) + 18;
    if (dx > 0 && dx + w > available) {
      row += 1;
      dx = 0;
    }
    placed.push({ ...item, dx, row });
    dx += w;
  }
  return { items: placed, rows: items.length === 0 ? 0 : row + 1 };
}

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
  legendRows: number;
}

function renderPanel(out: string[], p: PanelSpec, legend: LegendItem[], box: Box): void {
  out.push(`<g class="panel" data-panel="${esc(p.id)}">`);
  let top = box.top;
  if (p.heading !== undefined) {
    out.push(`<text class="heading" x="${num(box.left + 4)}" y="${num(top + 13)}" font-size="13" font-weight="600" fill="#222222">${esc(p.heading)}</text>`);
    top += HEADING_BAND;
  }
  const legendTop = top;
  top += box.legendRows * LEGEND_ROW + (box.legendRows > 0 ? 6 : 0);
  const plotTop = top;
  const plotBottom = box.top + box.height - X_AXIS_BAND;
  const plotHeight = Math.max(20, plotBottom - plotTop);

  const all = p.series.flatMap((s) => s.points);
  const y = d3Modules().scale.scaleLinear().domain(yDomain(all.map((q) => q.y), p.percentY)).range([plotTop + plotHeight, plotTop]);
  const yCount = Math.max(2, Math.round(plotHeight / 45));
  y.nice(yCount);
  const yTicks = y.ticks(yCount);
  const yFormat = p.percentY ? y.tickFormat(yCount, '%') : tickFormat(y, yCount);
  const yLabels = yTicks.map((t) => yFormat(t));
  const tickLabelWidth = Math.max(0, ...yLabels.map((s) => textWidth(s, 11)));
  const plotLeft = box.left + 20 + tickLabelWidth + 8;
  const plotRight = box.left + box.width;
  const plotWidth = Math.max(20, plotRight - plotLeft);

  // Markers sitting on the axis line are hard to see, so a marked series keeps a few pixels clear.
  const inset = p.series.some((s) => s.markers) ? 8 : 0;
  const x = d3Modules().scale.scaleLinear().domain(xDomain(all.map((q) => q.x), p.integerX)).range([plotLeft + inset, plotLeft + plotWidth - inset]);
  const xCount = Math.max(2, Math.round(plotWidth / 80));
  let xTicks = x.ticks(xCount);
  let xFormat = tickFormat(x, xCount);
  if (p.integerX) {
    xTicks = xTicks.filter(Number.isInteger);
    if (xTicks.length === 0) xTicks = [Math.round((x.domain()[0]! + x.domain()[1]!) / 2)];
    xFormat = (t) => String(t);
  }

  renderLegend(out, legend, box.left + LEGEND_INDENT, legendTop);
  renderAxes(out, p, { x, y, xTicks, yTicks, xFormat, yLabels, plotLeft, plotTop, plotWidth, plotHeight, box });

  if (p.vline) {
    const vx = x(p.vline.x);
    out.push(
      `<line class="best" x1="${num(vx)}" y1="${num(plotTop)}" x2="${num(vx)}" y2="${num(plotTop + plotHeight)}" stroke="#666666" stroke-width="1.2" stroke-dasharray="4 3"/>`,
    );
  }
  for (const s of p.series) renderSeries(out, s, x, y, plotWidth);
  out.push('</g>');
}

interface AxisParts {
  x: ScaleLinear<number, number>;
  y: ScaleLinear<number, number>;
  xTicks: number[];
  yTicks: number[];
  xFormat: (t: number) => string;
  yLabels: string[];
  plotLeft: number;
  plotTop: number;
  plotWidth: number;
  plotHeight: number;
  box: Box;
}

function renderAxes(out: string[], p: PanelSpec, a: AxisParts): void {
  const bottom = a.plotTop + a.plotHeight;
  const right = a.plotLeft + a.plotWidth;
  out.push('<g class="grid" stroke="#e6e6e6" stroke-width="1">');
  for (const t of a.yTicks) out.push(`<line x1="${num(a.plotLeft)}" y1="${num(a.y(t))}" x2="${num(right)}" y2="${num(a.y(t))}"/>`);
  out.push('</g>');
  out.push(`<g class="axis" stroke="#444444" stroke-width="1">`);
  out.push(`<line x1="${num(a.plotLeft)}" y1="${num(bottom)}" x2="${num(right)}" y2="${num(bottom)}"/>`);
  out.push(`<line x1="${num(a.plotLeft)}" y1="${num(a.plotTop)}" x2="${num(a.plotLeft)}" y2="${num(bottom)}"/>`);
  for (const t of a.xTicks) out.push(`<line x1="${num(a.x(t))}" y1="${num(bottom)}" x2="${num(a.x(t))}" y2="${num(bottom + 5)}"/>`);
  for (const t of a.yTicks) out.push(`<line x1="${num(a.plotLeft - 5)}" y1="${num(a.y(t))}" x2="${num(a.plotLeft)}" y2="${num(a.y(t))}"/>`);
  out.push('</g>');
  out.push('<g class="ticks" font-size="11" fill="#444444">');
  for (const t of a.xTicks) {
    out.push(`<text class="tick x" x="${num(a.x(t))}" y="${num(bottom + 17)}" text-anchor="middle">${esc(a.xFormat(t))}</text>`);
  }
  a.yTicks.forEach((t, i) => {
    out.push(`<text class="tick y" x="${num(a.plotLeft - 8)}" y="${num(a.y(t) + 4)}" text-anchor="end">${esc(a.yLabels[i]!)}</text>`);
  });
  out.push('</g>');
  out.push(`<text class="label x" x="${num(a.plotLeft + a.plotWidth / 2)}" y="${num(bottom + 35)}" text-anchor="middle" fill="#222222">${esc(p.xLabel)}</text>`);
  const ly = a.plotTop + a.plotHeight / 2;
  const lx = a.box.left + 10;
  out.push(`<text class="label y" x="${num(lx)}" y="${num(ly)}" transform="rotate(-90 ${num(lx)} ${num(ly)})" text-anchor="middle" fill="#222222">${esc(p.yLabel)}</text>`);
}

function renderSeries(out: string[], s: Series, x: ScaleLinear<number, number>, y: ScaleLinear<number, number>, plotWidth: number): void {
  const finite = s.points.filter((q) => Number.isFinite(q.x) && Number.isFinite(q.y));
  const name = esc(s.name);
  if (s.kind === 'line') {
    // defined() breaks the line at NaN/±Infinity instead of drawing it to the edge of the plot.
    const d = d3Modules().shape.line<Point>()
      .defined((q) => Number.isFinite(q.x) && Number.isFinite(q.y))
      .x((q) => x(q.x))
      .y((q) => y(q.y))
      .digits(2)(s.points);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    out.push(
      `<path class="series" data-series="${name}" d="${d ?? ''}" fill="none" stroke="${s.colour}" stroke-width="${s.strokeWidth}"${dash} stroke-linejoin="round" stroke-linecap="round"/>`,
    );
  }
  if (s.markers && finite.length > 0) {
    const r = s.kind === 'points' ? 3.5 : Math.max(2, Math.min(3.5, plotWidth / finite.length / 3));
    const style = s.kind === 'points' ? `fill="#ffffff" fill-opacity="0.7" stroke="${s.colour}" stroke-width="1.5"` : `fill="${s.colour}" stroke="#ffffff" stroke-width="1"`;
    out.push(`<g class="markers" data-series="${name}" ${style}>`);
    for (const q of finite) out.push(`<circle cx="${num(x(q.x))}" cy="${num(y(q.y))}" r="${num(r)}"/>`);
    out.push('</g>');
  }
}

function renderLegend(out: string[], items: LegendItem[], left: number, top: number): void {
  if (items.length === 0) return;
  out.push('<g class="legend">');
  for (const it of items) {
    const x0 = left + it.dx;
    const cy = top + it.row * LEGEND_ROW + LEGEND_ROW / 2;
    const dash = it.dash ? ` stroke-dasharray="${it.dash}"` : '';
    if (it.kind === 'line') {
      out.push(`<line x1="${num(x0)}" y1="${num(cy)}" x2="${num(x0 + SWATCH)}" y2="${num(cy)}" stroke="${it.colour}" stroke-width="2"${dash}/>`);
      if (it.marker) out.push(`<circle cx="${num(x0 + SWATCH / 2)}" cy="${num(cy)}" r="3" fill="${it.colour}" stroke="#ffffff" stroke-width="1"/>`);
    } else if (it.kind === 'points') {
      out.push(`<circle cx="${num(x0 + SWATCH / 2)}" cy="${num(cy)}" r="3.5" fill="#ffffff" stroke="${it.colour}" stroke-width="1.5"/>`);
    } else {
      out.push(`<line x1="${num(x0 + SWATCH / 2)}" y1="${num(cy - 7)}" x2="${num(x0 + SWATCH / 2)}" y2="${num(cy + 7)}" stroke="${it.colour}" stroke-width="1.2"${dash}/>`);
    }
    out.push(`<text x="${num(x0 + SWATCH + 6)}" y="${num(cy + 4)}" fill="#222222">${esc(it.label)}</text>`);
  }
  out.push('</g>');
}

/**
 * d3's default tick labels are fixed-point with at most 20 decimals, so values below 1e-6 would all
 * read "0.00000…" and those past 1e21 switch notation mid-axis; such axes get exponent labels.
 */
function tickFormat(scale: ScaleLinear<number, number>, count: number): (t: number) => string {
  const [a, b] = scale.domain() as [number, number];
  const big = Math.max(Math.abs(a), Math.abs(b));
  return big >= 1e21 || big < 1e-6 ? scale.tickFormat(count, 'e') : scale.tickFormat(count);
}

/** The finite extent, widened when it is (nearly) a single value so the scale does not collapse. */
function yDomain(values: number[], percent: boolean): [number, number] {
  const { lo, hi, padded } = domain(values, false);
  return percent && padded ? [Math.max(0, lo), Math.min(1, hi)] : [lo, hi];
}

function xDomain(values: number[], integer: boolean): [number, number] {
  const { lo, hi } = domain(values, integer);
  return [lo, hi];
}

function domain(values: number[], integer: boolean): { lo: number; hi: number; padded: boolean } {
  const [rawLo, rawHi] = extent(values);
  if (rawLo === undefined || rawHi === undefined) return { lo: 0, hi: 1, padded: false };
  const lo = Math.max(rawLo, -MAX_ABS);
  const hi = Math.min(rawHi, MAX_ABS);
  if (hi - lo >= MIN_SPAN) return { lo, hi, padded: false };
  const mid = lo + (hi - lo) / 2;
  // Half a step either side keeps a lone epoch centred with its own integer tick.
  const rel = Math.abs(mid) * 0.1;
  const pad = integer ? 0.5 : rel >= MIN_SPAN ? rel : 1;
  return { lo: mid - pad, hi: mid + pad, padded: true };
}

function extent(values: number[]): [number | undefined, number | undefined] {
  let lo: number | undefined;
  let hi: number | undefined;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (lo === undefined || v < lo) lo = v;
    if (hi === undefined || v > hi) hi = v;
  }
  return [lo, hi];
}

/** Escapes text for XML content and attribute values, dropping characters XML 1.0 forbids outright. */
function esc(s: string): string {
  return String(s)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** Coordinates to two decimals: sub-pixel precision beyond that only makes the file bigger. */
function num(v: number): string {
  const r = Math.round(v * 100) / 100;
  return String(r === 0 ? 0 : r);
}

// An estimate (no font metrics without a DOM): an average sans-serif glyph is about 0.6 em wide;
// a little more is assumed because DejaVu Sans, the usual Linux fallback, runs wide.
function textWidth(s: string, fontSize: number): number {
  return s.length * fontSize * 0.62;
}
