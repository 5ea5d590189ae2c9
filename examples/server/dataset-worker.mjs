/**
 * Loads the first `limit` rows of a built-in dataset for a quick retrain (POST /retrain with
 * "limit"). It runs in its own worker thread because decoding Fashion-MNIST's IDX files takes about
 * a second and slicing 60,000 rows more: done on the server's thread, that stalled every request.
 * The rows come back as transferred buffers, so the server thread does not copy them here.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadDigits, loadFashionMnist } from 'tensorgrad';

const { dataset, limit } = workerData;
const d = dataset === 'digits' ? loadDigits() : loadFashionMnist();
// A copy of just the rows kept (slice() gives a view of the whole dataset's buffer).
const wire = (t) => ({ data: t.data.slice(), shape: [...t.shape] });
if (limit >= d.train.tensors[0].shape[0]) {
  // The whole dataset: the caller passes its name to trainInWorker instead (no copy at all).
  parentPort.postMessage({ whole: true });
} else {
  const cut = ([x, y], n) => [x.slice(0, Math.min(n, x.shape[0])), y.slice(0, Math.min(n, y.shape[0]))].map(wire);
  const train = cut(d.train.tensors, limit);
  const validation = cut(d.test.tensors, limit);
  const buffers = [...train, ...validation].map((t) => t.data.buffer);
  parentPort.postMessage({ whole: false, train, validation }, buffers);
}
