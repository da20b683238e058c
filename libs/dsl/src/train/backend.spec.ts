import { initTfjs, loadTfjs, type ModuleLoader } from './backend';

/** `require`, except that `broken` packages throw as an absent or half-installed package does. */
function loader(broken: Record<string, Error>): ModuleLoader {
  return (id) => {
    if (broken[id]) throw broken[id];
    return require(id);
  };
}

const absent = (id: string) => Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- /srv/app/backend.js`), { code: 'MODULE_NOT_FOUND' });
const noBinding = new Error('The Node.js native addon module (tfjs_binding.node) can not be found at path: /srv/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node. \nPlease run command ...');

describe('loadTfjs', () => {
  it('falls back from an absent tfjs-node to wasm quietly, saying why, with the gradient kernels registered', async () => {
    const loaded = await initTfjs('auto', loader({ '@tensorflow/tfjs-node': absent('@tensorflow/tfjs-node') }));
    expect(loaded.backend).toBe('wasm');
    expect(loaded.tf.getBackend()).toBe('wasm');
    expect(loaded.fallbackReason).toBe("tensorflow: Cannot find module '@tensorflow/tfjs-node'");
    expect(loaded.tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeDefined();
  });

  it('falls back from a tfjs-node without its native binding the same way', async () => {
    const loaded = await initTfjs('auto', loader({ '@tensorflow/tfjs-node': noBinding }));
    expect(loaded.backend).toBe('wasm');
    expect(loaded.fallbackReason).toMatch(/^tensorflow: The Node\.js native addon module \(tfjs_binding\.node\) can not be found/);
  });

  it('ends on cpu when wasm cannot load either, with both reasons', async () => {
    const loaded = await initTfjs('auto', loader({ '@tensorflow/tfjs-node': noBinding, '@tensorflow/tfjs-backend-wasm': absent('@tensorflow/tfjs-backend-wasm') }));
    expect(loaded.backend).toBe('cpu');
    expect(loaded.tf.getBackend()).toBe('cpu');
    expect(loaded.fallbackReason).toMatch(/^tensorflow: .*tfjs_binding.*; wasm: Cannot find module '@tensorflow\/tfjs-backend-wasm'$/);
  });

  it('a forced backend loads or fails with a clear Error', async () => {
    await expect(initTfjs('tensorflow', loader({ '@tensorflow/tfjs-node': noBinding }))).rejects.toThrow(/^The tfjs 'tensorflow' backend cannot be loaded \(tensorflow: The Node.js native addon/);
    await expect(initTfjs('bogus' as never)).rejects.toThrow("Unknown tfjs backend 'bogus'; expected auto, tensorflow, wasm, cpu");
    const cpu = await initTfjs('cpu');
    expect(cpu).toMatchObject({ backend: 'cpu' });
    expect(cpu.fallbackReason).toBeUndefined();
  });

  it('is memoised per choice and makes its backend active again on every call', async () => {
    let nodeInstalled = true;
    try {
      require.resolve('@tensorflow/tfjs-node');
    } catch {
      nodeInstalled = false;
    }
    const auto = await loadTfjs();
    if (!nodeInstalled) {
      expect(auto.backend).toBe('wasm');
      expect(auto.fallbackReason).toMatch(/^tensorflow: Cannot find module '@tensorflow\/tfjs-node'/);
    }
    const cpu = await loadTfjs('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    const again = await loadTfjs('auto');
    expect(again).toBe(auto);
    expect(again.tf.getBackend()).toBe(auto.backend);
    if (!nodeInstalled) await expect(loadTfjs('tensorflow')).rejects.toThrow(/tensorflow' backend cannot be loaded/);
  });
});
