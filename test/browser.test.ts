import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { AdamW, fit, loadDigits, manualSeed, mlp, saveModel } from '../src/index.js';
import { describeBackends } from './helpers/backends.js';
import { type ServerProcess, startServer } from './helpers/server-process.js';

// The drawing page of the model service in headless Chromium (driven by puppeteer-core, no
// bundled browser): draw a stroke with the mouse, see a prediction appear. CI installs Debian's
// chromium; elsewhere the test skips, saying so, when no Chromium is found.

const candidates = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const chromium = candidates.find((p): p is string => p !== undefined && p !== '' && existsSync(p));

// The page's globals, typed just enough for the callbacks that run in the browser (the project
// compiles without the DOM library, and declaring it here would make it global to every file).
interface PageElement {
  textContent: string | null;
  style: { width: string };
  classList: { contains(name: string): boolean };
}
declare const document: { getElementById(id: string): PageElement | null; querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement> };

let dir = '';
let modelPath = '';

beforeAll(async () => {
  if (chromium === undefined) return;
  dir = mkdtempSync(join(tmpdir(), 'tg-browser-'));
  modelPath = join(dir, 'digits.safetensors');
  // A small but trained model, so that a drawn "1" must come out as 1: that checks the page's
  // MNIST-style preprocessing end to end, not only that some answer appears.
  manualSeed(3);
  const spec = { inputs: 784, hidden: [64], outputs: 10 };
  const model = mlp(spec);
  const { train } = loadDigits();
  await fit(model, { train: train.tensors, epochs: 3, batchSize: 64, optimizer: (m) => new AdamW(m.parameters(), { lr: 2e-3 }), progress: 'none' });
  await saveModel(model, modelPath, { spec, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], preprocess: null });
}, 60_000);
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

if (chromium === undefined) {
  it.skip(`browser test: no Chromium found (set CHROMIUM_PATH, or install Debian's chromium); looked at ${candidates.filter(Boolean).join(', ')}`, () => {});
} else {
  describeBackends('drawing page in headless Chromium', (backend) => {
    let server: ServerProcess | undefined;
    let browser: Browser | undefined;
    // After each test, so a failed test never leaves its server running.
    afterEach(async () => {
      await browser?.close().catch(() => undefined);
      browser = undefined;
      await server?.stop().catch(() => undefined);
      server = undefined;
    });

    it('draws a stroke on the canvas and shows the predicted class with ten probability bars', async () => {
      server = await startServer(['--model', modelPath], backend().name);
      browser = await puppeteer.launch({
        executablePath: chromium,
        headless: true,
        // CI runs as root, where Chromium's sandbox cannot start.
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
        timeout: 15_000,
      });
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
      page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text()}`)));
      page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
      page.on('request', (r) => void (new URL(r.url()).host !== new URL(server!.url).host && problems.push(`external request: ${r.url()}`)));
      const sent: number[][] = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/predict')) sent.push((JSON.parse(r.postData() ?? '{}') as { input: number[] }).input);
      });

      await page.goto(`${server.url}/`, { waitUntil: 'networkidle0', timeout: 10_000 });
      await page.waitForFunction(() => document.getElementById('model')!.textContent!.includes('784-64-10'), { timeout: 5000 });

      // A "1": one slightly slanted vertical stroke, drawn in small mouse steps.
      const box = (await (await page.$('#pad'))!.boundingBox())!;
      await page.mouse.move(box.x + 150, box.y + 50);
      await page.mouse.down();
      await page.mouse.move(box.x + 135, box.y + 230, { steps: 25 });
      await page.mouse.up();

      await page.waitForFunction(() => document.getElementById('class')!.textContent !== '–', { timeout: 5000 });
      // Let the answer to the stroke's end (the last request) land.
      await page.waitForNetworkIdle({ idleTime: 200, timeout: 5000 });
      const shown = await page.evaluate(() => ({
        label: document.getElementById('class')!.textContent,
        widths: [...document.querySelectorAll('#bars .bar')].map((b) => parseFloat(b.style.width)),
        labels: [...document.querySelectorAll('#bars .label')].map((l) => l.textContent),
        top: [...document.querySelectorAll('#bars li')].findIndex((li) => li.classList.contains('top')),
        status: document.getElementById('status')!.textContent,
      }));
      expect(problems).toEqual([]);
      expect(shown.status).toBe('');
      expect(shown.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(shown.widths).toHaveLength(10);
      expect(Math.abs(shown.widths.reduce((a, b) => a + b, 0) - 100)).toBeLessThan(0.5);
      expect(shown.top).toBe(shown.widths.indexOf(Math.max(...shown.widths)));
      expect(shown.label).toBe(String(shown.top));
      expect(shown.label).toBe('1');

      // What the page sent looks like an MNIST digit: 784 grey levels in [0, 1], the ink's box at
      // most 20 pixels on its longer side, its centre of mass within a pixel of the middle.
      expect(sent.length).toBeGreaterThan(0);
      const input = sent[sent.length - 1]!;
      expect(input).toHaveLength(784);
      expect(input.every((v) => v >= 0 && v <= 1)).toBe(true);
      let mass = 0, mx = 0, my = 0, x0 = 28, x1 = -1, y0 = 28, y1 = -1;
      input.forEach((v, i) => {
        if (v === 0) return;
        const x = i % 28, y = Math.floor(i / 28);
        mass += v;
        mx += v * (x + 0.5);
        my += v * (y + 0.5);
        [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
      });
      expect(Math.max(x1 - x0 + 1, y1 - y0 + 1)).toBe(20);
      expect(Math.abs(mx / mass - 14)).toBeLessThanOrEqual(1);
      expect(Math.abs(my / mass - 14)).toBeLessThanOrEqual(1);

      // Clear empties the prediction.
      await page.click('#clear');
      expect(await page.$eval('#class', (e) => e.textContent)).toBe('–');
      expect(await page.$$eval('#bars .bar', (bars) => bars.map((b) => parseFloat((b as unknown as PageElement).style.width)))).toEqual(Array(10).fill(0));
    }, 30_000);
  });
}
