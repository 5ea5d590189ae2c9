// The drawing page: a stroke on the canvas becomes a 28×28 MNIST-style input, sent to POST /predict.
const SIZE = 28; // the model's input is SIZE × SIZE
const BOX = 20; // MNIST scales each digit's bounding box to fit BOX × BOX, then centres it by mass
const THROTTLE_MS = 150; // at most one prediction per this while a stroke is being drawn

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d', { willReadFrequently: true });
const preview = document.getElementById('preview').getContext('2d');
const classEl = document.getElementById('class');
const barsEl = document.getElementById('bars');
const statusEl = document.getElementById('status');
const modelEl = document.getElementById('model');

let drawing = false;
let last = null;
let seq = 0; // id of the latest request sent
let shown = 0; // id of the request whose answer is on screen
let clearedAt = 0; // answers to requests sent before the last Clear are dropped
let lastSent = 0;
let timer = null;
let modelVersion = null;

ctx.lineCap = 'round';
ctx.lineJoin = 'round';
ctx.lineWidth = 18;
ctx.strokeStyle = '#111';
ctx.fillStyle = '#111';

function makeBars(classes) {
  barsEl.replaceChildren(
    ...classes.map((name) => {
      const li = document.createElement('li');
      const label = Object.assign(document.createElement('span'), { className: 'label', textContent: name, title: name });
      const track = Object.assign(document.createElement('span'), { className: 'track' });
      track.append(Object.assign(document.createElement('span'), { className: 'bar' }));
      const pct = Object.assign(document.createElement('span'), { className: 'pct', textContent: '0.0%' });
      li.append(label, track, pct);
      return li;
    }),
  );
}

async function loadModelInfo() {
  try {
    const res = await fetch('/health');
    const { model } = await res.json();
    const s = model.spec;
    modelVersion = model.version;
    if (barsEl.children.length !== model.classes.length) makeBars(model.classes);
    else model.classes.forEach((c, i) => (barsEl.children[i].querySelector('.label').textContent = c));
    modelEl.textContent =
      `Model: MLP ${[s.inputs, ...s.hidden, s.outputs].join('-')} (${s.activation}${model.members > 1 ? `, ensemble of ${model.members}` : ''}), ` +
      `${model.parameters.toLocaleString()} parameters, version ${model.version} from ${model.source}, ` +
      `loaded ${new Date(model.loadedAt).toLocaleTimeString()}, ${model.backend} backend`;
  } catch (e) {
    modelEl.textContent = `model info unavailable: ${e.message}`;
  }
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * pad.width) / r.width, y: ((e.clientY - r.top) * pad.height) / r.height };
}

/** A round dot one stroke wide: a zero-length line would draw nothing (canvas drops those). */
function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fill();
}

function line(a, b) {
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}

pad.addEventListener('pointerdown', (e) => {
  pad.setPointerCapture(e.pointerId);
  drawing = true;
  last = point(e);
  dot(last); // a tap leaves a dot
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  const p = point(e);
  line(last, p);
  last = p;
  throttledPredict();
});
const endStroke = () => {
  if (!drawing) return;
  drawing = false;
  clearTimeout(timer);
  timer = null;
  predict();
};
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

document.getElementById('clear').addEventListener('click', () => {
  ctx.clearRect(0, 0, pad.width, pad.height);
  preview.clearRect(0, 0, SIZE, SIZE);
  clearedAt = seq;
  classEl.textContent = '–';
  statusEl.textContent = '';
  for (const li of barsEl.children) render(li, 0, false);
});

function throttledPredict() {
  const wait = lastSent + THROTTLE_MS - performance.now();
  if (wait <= 0) predict();
  else timer ??= setTimeout(() => ((timer = null), predict()), wait);
}

/**
 * The drawing as MNIST prepares its digits: ink = the canvas's alpha, cropped to its bounding box,
 * scaled (box filter) so the longer side is BOX pixels, and placed in the SIZE × SIZE field with
 * its centre of mass in the middle. Null when nothing is drawn.
 */
function preprocess() {
  const { width: w, height: h } = pad;
  const px = ctx.getImageData(0, 0, w, h).data;
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (px[(y * w + x) * 4 + 3] === 0) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const scale = BOX / Math.max(bw, bh);
  const tw = Math.max(1, Math.round(bw * scale)), th = Math.max(1, Math.round(bh * scale));
  const sum = new Float64Array(tw * th), count = new Float64Array(tw * th);
  for (let y = y0; y <= y1; y++) {
    const ty = Math.min(th - 1, Math.floor((y - y0) * scale));
    for (let x = x0; x <= x1; x++) {
      const i = ty * tw + Math.min(tw - 1, Math.floor((x - x0) * scale));
      sum[i] += px[(y * w + x) * 4 + 3] / 255;
      count[i]++;
    }
  }
  let mass = 0, mx = 0, my = 0;
  for (let i = 0; i < sum.length; i++) {
    sum[i] /= count[i] || 1;
    mass += sum[i];
    mx += sum[i] * ((i % tw) + 0.5);
    my += sum[i] * (Math.floor(i / tw) + 0.5);
  }
  const clamp = (v, hi) => Math.max(0, Math.min(hi, v));
  const ox = clamp(Math.round(SIZE / 2 - mx / mass), SIZE - tw), oy = clamp(Math.round(SIZE / 2 - my / mass), SIZE - th);
  const out = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < sum.length; i++) out[(Math.floor(i / tw) + oy) * SIZE + (i % tw) + ox] = sum[i];
  return out;
}

function showPreview(input) {
  const img = preview.createImageData(SIZE, SIZE);
  input.forEach((v, i) => {
    img.data.set([255 * v, 255 * v, 255 * v, 255], i * 4);
  });
  preview.putImageData(img, 0, 0);
}

function render(li, p, top) {
  li.querySelector('.bar').style.width = `${(p * 100).toFixed(2)}%`;
  li.querySelector('.pct').textContent = `${(p * 100).toFixed(1)}%`;
  li.classList.toggle('top', top);
}

async function predict() {
  const input = preprocess();
  if (input === null) return;
  showPreview(input);
  const id = ++seq;
  lastSent = performance.now();
  try {
    const res = await fetch('/predict', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ input: Array.from(input, (v) => Math.round(v * 1e4) / 1e4) }),
    });
    const body = await res.json();
    if (id <= clearedAt || id < shown) return; // a newer answer is already on screen
    shown = id;
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
    if (barsEl.children.length !== body.probabilities.length) makeBars(body.probabilities.map((_, i) => String(i)));
    [...barsEl.children].forEach((li, i) => render(li, body.probabilities[i], i === body.class));
    classEl.textContent = body.label;
    statusEl.textContent = '';
    if (body.modelVersion !== modelVersion) loadModelInfo(); // swapped by a retrain
  } catch (e) {
    if (id >= shown) statusEl.textContent = `prediction failed: ${e.message}`;
  }
}

loadModelInfo();
