import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../backend/root.js';
import { requireKnownOptions } from '../ops/args.js';
import { TensorDataset } from './dataset.js';
import { valueStr } from '../shape.js';
import { idxFolder } from './idx.js';

/** A classification dataset with a fixed train/test split, as the loaders below return it. */
export interface ClassificationData {
  /** The dataset's name ('digits', 'fashion-mnist'). */
  name: string;
  /** Inputs [N, features] in [0, 1] and class indices [N]. */
  train: TensorDataset;
  /** The held-out test split, same layout as train. */
  test: TensorDataset;
  /** Class names in index order. */
  classes: string[];
  /** The shape of one input before flattening (e.g. [28, 28]). */
  inputShape: number[];
}

/** Where the embedded digits live inside the package. */
export function digitsDir(): string {
  return join(packageRoot(), 'datasets', 'digits');
}

function fromFolder(fn: string, name: string, dir: string, classes: string[]): ClassificationData {
  const { train, test } = idxFolder(fn, dir, undefined);
  return { name, train: new TensorDataset(train.x, train.y), test: new TensorDataset(test.x, test.y), classes, inputShape: [28, 28] };
}

/**
 * The embedded handwritten digits: 10,000 real MNIST digits shipped inside the package (no
 * download), split into a fixed 8,004-digit training set and 1,996-digit test set, pixels scaled
 * to [0, 1] and flattened to 784 features.
 * @example
 * ```ts
 * const { train, test, classes } = loadDigits();
 * const model = mlp({ inputs: 784, hidden: [128], outputs: classes.length });
 * await fit(model, { train, validation: test, epochs: 5 });
 * ```
 */
export function loadDigits(): ClassificationData {
  return fromFolder('loadDigits', 'digits', digitsDir(), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
}

/** Fashion-MNIST's class names, in label order. */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Fashion-MNIST (60,000 training and 10,000 test images of clothing, the official split) from a
 * folder of its four IDX files: `options.dir`, else env TENSORGRAD_FASHION_MNIST_DIR, else where
 * Debian's `dataset-fashion-mnist` package installs them. Nothing is downloaded.
 * @param options - dir
 */
export function loadFashionMnist(
  options: {
    /** The folder holding the four IDX files (raw or .gz). */
    dir?: string;
  } = {},
): ClassificationData {
  requireKnownOptions('loadFashionMnist', options, ['dir']);
  if (options.dir !== undefined && typeof options.dir !== 'string') throw new Error(`loadFashionMnist: dir must be a path (a string), got ${valueStr(options.dir)}`);
  const dir = options.dir ?? (process.env['TENSORGRAD_FASHION_MNIST_DIR'] || DEBIAN_FASHION_MNIST_DIR);
  if (!existsSync(dir)) {
    throw new Error(
      `loadFashionMnist: no Fashion-MNIST at ${dir}. Install it with \`sudo apt-get install dataset-fashion-mnist\` (Debian/Ubuntu), ` +
        'or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz ' +
        'in a folder and pass { dir } (or set TENSORGRAD_FASHION_MNIST_DIR)',
    );
  }
  return fromFolder('loadFashionMnist', 'fashion-mnist', dir, FASHION_MNIST_CLASSES);
}
