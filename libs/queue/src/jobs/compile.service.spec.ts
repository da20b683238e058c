import { Test, type TestingModule } from '@nestjs/testing';
import { readdir } from 'fs/promises';
import { join } from 'path';
import { AppConfigModule } from '@app/config';
import { ModelsRepository, PersistenceModule, TenantsRepository } from '@app/persistence';
import { ArtifactStore, StorageModule } from '@app/storage';
import { openTestDatabase, TEST_DIALECTS, type TestDatabase } from '@app/testing';
import { DslCompileError } from './compile.errors';
import { CompileCoreModule } from './compile-core.module';
import { CompileService, InvalidCompileRequestError } from './compile.service';

const SEED_DSL = 'Model MyModel {\n  Input(shape=[28, 28, 1])\n  Conv2D(filters=32, kernel_size=3, activation=relu)\n  Dense(units=10, activation=softmax)\n}';

describe.each(TEST_DIALECTS)('CompileService on %s', (dialect) => {
  let db: TestDatabase;
  let moduleRef: TestingModule;
  let service: CompileService;
  let store: ArtifactStore;
  let models: ModelsRepository;
  let tenantId: string;

  beforeAll(async () => {
    db = await openTestDatabase(dialect);
    moduleRef = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(db.config), PersistenceModule.forRoot(), StorageModule.forRoot(), CompileCoreModule] }).compile();
    await moduleRef.init();
    service = moduleRef.get(CompileService);
    store = moduleRef.get(ArtifactStore);
    models = moduleRef.get(ModelsRepository);
    tenantId = (await moduleRef.get(TenantsRepository).create('compile')).id;
  });

  afterAll(async () => {
    await moduleRef?.close();
    await db?.close();
  });

  it('compiles to Python, stores model.py and registers the model', async () => {
    const result = await service.compileAndStore(tenantId, { dsl_code: SEED_DSL, backend: 'pytorch', dataset: 'MNIST' });
    expect(result).toMatchObject({ backend: 'pytorch', status: 'completed', download_url: `/models/${result.model_id}/download` });
    expect(result.compiled_code).toContain('import torch');
    expect(result.summary).toMatchObject({ name: 'MyModel', input_shape: [null, 28, 28, 1], output_shape: [null, 10] });
    expect(result.warnings.every((w) => typeof w.line === 'number' && typeof w.message === 'string' && !('severity' in w))).toBe(true);

    const model = (await models.findForTenant(tenantId, result.model_id))!;
    expect(model).toMatchObject({
      tenantId,
      name: 'MyModel',
      backend: 'pytorch',
      dsl: SEED_DSL,
      artifactKey: `${tenantId}/${result.model_id}/model.py`,
      contentType: 'text/x-python',
      filename: 'MyModel.py',
      jobId: null,
      summary: result.summary,
      warnings: result.warnings,
    });
    const file = await store.get(model.artifactKey);
    expect(file.toString('utf8')).toBe(result.compiled_code);
    expect(model.sizeBytes).toBe(file.length);
  });

  it('compiles to ONNX: no code in the answer, the binary in model.onnx', async () => {
    const result = await service.compileAndStore(tenantId, { dsl_code: SEED_DSL, backend: 'onnx' });
    expect(result.compiled_code).toBeNull();
    const model = (await models.findForTenant(tenantId, result.model_id))!;
    expect(model).toMatchObject({ artifactKey: `${tenantId}/${result.model_id}/model.onnx`, contentType: 'application/octet-stream', filename: 'MyModel.onnx' });
    const file = await store.get(model.artifactKey);
    expect(model.sizeBytes).toBe(file.length);
    // An ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
    expect(file[0]).toBe(0x08);
    expect(file.includes(Buffer.from('MyModel'))).toBe(true);
  });

  it('throws DslCompileError for invalid source and stores nothing', async () => {
    const before = (await models.list(tenantId, { skip: 0, limit: 1000 })).total;
    const err = await service.compileAndStore(tenantId, { dsl_code: 'Model X {\n  Input(shape=[28, 28, 1])\n  Dense(units=10\n}', backend: 'tensorflow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DslCompileError);
    expect((err as DslCompileError).code).toBe('dsl_syntax_error');
    expect((err as DslCompileError).errors[0]).toEqual(expect.objectContaining({ line: expect.any(Number), column: expect.any(Number), message: expect.any(String) }));
    expect((await models.list(tenantId, { skip: 0, limit: 1000 })).total).toBe(before);
  });

  it('rejects a malformed request before compiling', async () => {
    await expect(service.compileAndStore(tenantId, { dsl_code: '  ', backend: 'pytorch' })).rejects.toBeInstanceOf(InvalidCompileRequestError);
    await expect(service.compileAndStore(tenantId, { dsl_code: SEED_DSL, backend: 'caffe' as never })).rejects.toThrow(/backend must be one of/);
  });

  it('discard() removes the model row and its file', async () => {
    const result = await service.compileAndStore(tenantId, { dsl_code: SEED_DSL, backend: 'tensorflow' });
    const key = `${tenantId}/${result.model_id}/model.py`;
    expect(await store.exists(key)).toBe(true);
    await service.discard(tenantId, result.model_id);
    expect(await models.findForTenant(tenantId, result.model_id)).toBeNull();
    expect(await store.exists(key)).toBe(false);
  });

  if (dialect === 'postgres') {
    it('removes the stored file when the model row cannot be written', async () => {
      // Not a UUID: PostgreSQL refuses it for tenant_id, after the artifact was written.
      const badTenant = 'not-a-tenant';
      await expect(service.compileAndStore(badTenant, { dsl_code: SEED_DSL, backend: 'tensorflow' })).rejects.toThrow();
      const dir = join(db.config.storage.modelsPath, badTenant);
      const left = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
      expect(left.filter((f) => String(f).endsWith('model.py'))).toEqual([]);
    });
  }
});
