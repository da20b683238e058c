import 'reflect-metadata';
import { ConfigError, loadConfig } from '@app/config';
import { Logger } from '@nestjs/common';
import { createGateway } from './bootstrap';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const app = await createGateway(config);
  app.enableShutdownHooks();
  await app.listen(config.http.port, config.http.host);
  new Logger('Gateway').log(`listening on http://${config.http.host}:${config.http.port} (${config.mode} mode)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
