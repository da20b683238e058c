import { grantedScopes, redactServerPaths } from './index';

describe('grantedScopes', () => {
  it('adds implied scopes and ignores unknown names, prototype keys included', () => {
    expect(grantedScopes(['write'])).toEqual(['read', 'write', 'predict']);
    expect(grantedScopes(['admin'])).toEqual(['read', 'write', 'predict', 'admin']);
    expect(grantedScopes(['read', 'predict'])).toEqual(['read', 'predict']);
    expect(grantedScopes(['*', 'constructor', '__proto__', 'toString'])).toEqual([]);
  });
});

describe('redactServerPaths', () => {
  it('cuts absolute paths to their file name and keeps routes and ratios', () => {
    expect(redactServerPaths('Load model from /work/main/neural_storage/deployments/d/model.onnx failed')).toBe('Load model from model.onnx failed');
    expect(redactServerPaths("ENOENT: no such file or directory, open '/tmp/neural-x/y.bin'")).toBe("ENOENT: no such file or directory, open 'y.bin'");
    expect(redactServerPaths('File "/usr/lib/python3/dist-packages/torch/nn/modules/module.py", line 3')).toBe('File "module.py", line 3');
    expect(redactServerPaths('C:\\Users\\me\\model.onnx is bad')).toBe('model.onnx is bad');
    expect(redactServerPaths('health_check_path must be a path such as /health; 28/2 is not whole')).toBe('health_check_path must be a path such as /health; 28/2 is not whole');
  });
});
