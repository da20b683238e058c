import { ERROR_CODES } from '@app/contracts';
import type { INestApplication } from '@nestjs/common';
import compression from 'compression';
import express, { type Request, type Response } from 'express';
import { existsSync } from 'fs';
import { join } from 'path';

/**
 * Serves the dashboard (apps/ui, built by `npm run build:ui`) at /ui: hashed assets cached for good, every other path
 * under /ui answered with index.html (its routes live in the URL's hash). It needs no credentials to load: the page
 * asks for an API key and sends it with every API call, so it sees exactly what the key's tenant may see. Only the
 * dashboard is compressed (its scripts shrink to about a third): API answers stay uncompressed so event streams are
 * never buffered.
 */
export function mountDashboard(app: INestApplication, uiPath: string): void {
  const index = join(uiPath, 'index.html');
  const http = app.getHttpAdapter().getInstance() as express.Express;
  http.use('/ui', compression());
  http.use('/ui/assets', express.static(join(uiPath, 'assets'), { immutable: true, maxAge: '365d', index: false }));
  http.get('/ui/assets/*path', (req: Request, res: Response) => {
    res.status(404).type('application/problem+json').json({ status: 404, code: ERROR_CODES.notFound, title: 'Not Found', detail: `No dashboard asset ${req.path}.` });
  });
  http.get(['/ui', '/ui/*path'], (req: Request, res: Response) => {
    if (!existsSync(index)) {
      res
        .status(503)
        .type('application/problem+json')
        .json({ status: 503, code: ERROR_CODES.unavailable, title: 'Dashboard not built', detail: 'The dashboard has not been built on this server: run npm run build:ui (npm start does it).' });
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
}
