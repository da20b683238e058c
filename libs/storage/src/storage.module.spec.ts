import { loadConfig } from '@app/config';
import { Test } from '@nestjs/testing';
import { join } from 'path';
import { AppConfigModule } from '@app/config';
import { createTempDir } from '../../testing/src/database';
import { ArtifactStore } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';
import { StorageModule } from './storage.module';

describe('StorageModule', () => {
  it('provides a LocalArtifactStore rooted at MODELS_PATH', async () => {
    const dir = await createTempDir();
    const modelsPath = join(dir.path, 'my-models');
    const config = loadConfig({ NODE_ENV: 'test', STORAGE_PATH: dir.path, MODELS_PATH: modelsPath });
    const moduleRef = await Test.createTestingModule({ imports: [AppConfigModule.forRoot(config), StorageModule.forRoot()] }).compile();
    try {
      const store = moduleRef.get(ArtifactStore);
      expect(store).toBeInstanceOf(LocalArtifactStore);
      expect((store as LocalArtifactStore).root).toBe(modelsPath);
      await store.put('t/m/model.py', 'x = 1\n');
      expect(await new LocalArtifactStore(modelsPath).exists('t/m/model.py')).toBe(true);
    } finally {
      await moduleRef.close();
      await dir.remove();
    }
  });
});
