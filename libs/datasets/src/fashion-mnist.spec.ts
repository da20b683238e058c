import { existsSync } from 'fs';
import { join } from 'path';
import { DEFAULT_FASHION_MNIST_DIR, findBuiltinDataset, loadBuiltinDataset } from './builtin-datasets';

const installed = existsSync(join(DEFAULT_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));
const skipped = installed ? '' : ` (SKIPPED: ${DEFAULT_FASHION_MNIST_DIR} is missing; apt-get install dataset-fashion-mnist)`;

describe('FashionMNIST', () => {
  it(`is listed as available exactly when the Debian files are installed${skipped}`, () => {
    expect(findBuiltinDataset('fashion_mnist')!.available).toBe(installed);
  });

  (installed ? it : it.skip)(`loads 60,000 + 10,000 gzipped images in [0, 1] with 6,000 / 1,000 of each class${skipped}`, async () => {
    const fashion = await loadBuiltinDataset('Fashion-MNIST');
    expect(fashion.train).toMatchObject({ count: 60000, sampleShape: [28, 28, 1], labelShape: [] });
    expect(fashion.test).toMatchObject({ count: 10000, sampleShape: [28, 28, 1] });
    expect(fashion.train.x.length).toBe(60000 * 784);
    const counts = (labels: Int32Array | Float32Array) => {
      const c = new Array<number>(10).fill(0);
      for (const l of labels) c[l]++;
      return c;
    };
    expect(counts(fashion.train.y)).toEqual(new Array(10).fill(6000));
    expect(counts(fashion.test!.y)).toEqual(new Array(10).fill(1000));
    let [min, max] = [Infinity, -Infinity];
    for (const v of fashion.test!.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    expect(fashion.info.classNames![9]).toBe('Ankle boot');
    expect(await loadBuiltinDataset('fashionmnist')).toBe(fashion);
  });
});
