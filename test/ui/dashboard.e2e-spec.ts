import { createTenantSession, startGateway, waitUntil, type TenantSession, type TestGateway } from '@app/testing';
import { existsSync, mkdirSync } from 'fs';
import { join } from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import request from 'supertest';

/**
 * The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a real gateway: enter a key,
 * see a DSL error marked at its line, fix it, train and watch the curve grow, compare two experiments, deploy and
 * predict by drawing a digit. `UPDATE_SCREENSHOTS=1` saves each page under docs/screenshots/.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = process.env.UPDATE_SCREENSHOTS === '1' ? join(__dirname, '..', '..', 'docs', 'screenshots') : null;

const GOOD = `network Digits {
  input: (28, 28, 1)
  layers:
    Flatten()
    Dense(32, activation="relu")
    Output(10, "softmax")
  loss: "sparse_categorical_crossentropy"
  optimizer: Adam(learning_rate=0.003)
}`;
// Line 6 names an activation that does not exist.
const BROKEN = GOOD.replace('Output(10, "softmax")', 'Output(10, "sofmax")');

async function shot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Replaces the editor's text as a person would: focus, select all, type (inserted in one go). */
async function setSource(page: Page, text: string): Promise<void> {
  const content = page.getByTestId('editor').locator('.cm-content');
  await content.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
}

describe('the dashboard in Chromium', () => {
  let gw: TestGateway;
  let s: TenantSession;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    gw = await startGateway({ env: { RATE_LIMIT_ENABLED: 'false' } });
    s = await createTenantSession(gw);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(20_000);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.close();
  });

  it('is served by the gateway at /ui, offline, with a 503 that says why when not built', async () => {
    const res = await request(gw.url).get('/ui/').expect(200);
    expect(res.text).toContain('<div id="root">');
    const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(res.text)![1];
    const script = await request(gw.url).get(asset).set('Accept-Encoding', 'gzip').expect(200).expect('Cache-Control', /immutable/);
    expect(script.headers['content-encoding']).toBe('gzip');
    // API answers are not compressed (an event stream must never wait in a compression buffer).
    expect((await request(gw.url).get('/openapi.json').set('Accept-Encoding', 'gzip').expect(200)).headers['content-encoding']).toBeUndefined();
    await request(gw.url).get('/ui/assets/missing.js').expect(404);
    // Nothing is fetched from anywhere but the gateway.
    expect(res.text).not.toMatch(/https?:\/\//);
    const unbuilt = await startGateway({ env: { UI_PATH: join(__dirname, 'no-such-build') } });
    try {
      const missing = await request(unbuilt.url).get('/ui/').expect(503);
      expect(missing.body).toMatchObject({ status: 503, detail: expect.stringContaining('npm run build:ui') });
    } finally {
      await unbuilt.close();
    }
  });

  it('takes an API key once, refuses a bad one, and keeps the good one for the session', async () => {
    await page.goto(`${gw.url}/ui/`);
    await shot(page, 'key');
    await page.getByLabel('API key').fill('nk_not_a_key');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('API key').fill(s.apiKey);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
    await page.reload();
    await page.getByRole('navigation', { name: 'Main' }).waitFor();
  });

  it('marks a DSL error at its line as you type, and clears it once fixed', async () => {
    await page.goto(`${gw.url}/ui/#/playground`);
    await setSource(page, BROKEN);
    const problem = page.getByRole('list', { name: 'Diagnostics' }).getByRole('listitem').first();
    await problem.waitFor();
    expect(await problem.textContent()).toMatch(/^Line 6, column \d+: .*sofmax/);
    // The marker is in the editor, on line 6.
    const line6 = page.getByTestId('editor').locator('.cm-line').nth(5);
    await line6.locator('.cm-lintRange-error').waitFor();
    await shot(page, 'playground-error');
    await setSource(page, GOOD);
    await page.getByRole('status').filter({ hasText: /Compiled/ }).waitFor();
    expect(await page.getByRole('list', { name: 'Diagnostics' }).getByRole('listitem').count()).toBe(0);
    await page.getByRole('table', { name: 'Layers' }).getByText('dense_1').waitFor();
    await shot(page, 'playground');
  });

  let experimentId = '';

  it('trains from the playground and the loss curve grows epoch by epoch', async () => {
    await page.getByLabel('Dataset').selectOption('MNIST');
    await page.getByLabel('Epochs').fill('4');
    await page.getByLabel('Training samples').fill('3000');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await page.waitForURL(/#\/jobs\/[0-9a-f-]{36}/);
    const jobId = /#\/jobs\/([0-9a-f-]{36})/.exec(page.url())![1];
    const chart = page.getByRole('img', { name: 'Loss' });
    const seen = new Set<number>();
    await waitUntil(
      async () => {
        const points = Number((await chart.getAttribute('data-points').catch(() => '0')) ?? 0);
        seen.add(points);
        return (await request(gw.url).get(`/jobs/${jobId}`).set(s.headers)).body.status as string;
      },
      (status) => status === 'completed',
      120_000,
      'the training to complete',
    );
    await waitUntil(async () => Number(await chart.getAttribute('data-points')), (n) => n === 4, 10_000, 'all 4 points');
    // The page showed the curve while it grew, not only at the end.
    expect([...seen].filter((n) => n > 0 && n < 4).length).toBeGreaterThanOrEqual(1);
    await page.getByText('completed').first().waitFor();
    await shot(page, 'job');
    experimentId = (await request(gw.url).get(`/jobs/${jobId}`).set(s.headers)).body.experiment_id;
  });

  it('lists jobs with their progress streaming live', async () => {
    const { job_id: id } = (await request(gw.url).post('/jobs/train').set(s.headers).send({ dsl_code: GOOD, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 5, train_samples: 6000 } }).expect(202)).body;
    await page.goto(`${gw.url}/ui/#/jobs`);
    const bar = page.getByRole('progressbar', { name: `Progress of job ${id.slice(0, 8)}` });
    const seen = new Set<number>();
    await waitUntil(
      async () => {
        seen.add(Number(await bar.getAttribute('aria-valuenow').catch(() => '0')));
        return (await request(gw.url).get(`/jobs/${id}`).set(s.headers)).body.status as string;
      },
      (status) => status === 'completed',
      120_000,
      'the training to complete',
    );
    expect([...seen].filter((v) => v > 0 && v < 100).length).toBeGreaterThanOrEqual(2);
    await page.getByRole('table', { name: 'Jobs' }).getByText('completed').first().waitFor();
  });

  it('compares two experiments: overlaid curves, only the hyperparameters that differ, the best marked', async () => {
    const other = (await request(gw.url).post('/jobs/train').set(s.headers).send({ dsl_code: GOOD, backend: 'tensorflow', dataset: 'MNIST', training_config: { epochs: 2, train_samples: 3000, learning_rate: 0.0005 } }).expect(202)).body;
    await waitUntil(async () => (await request(gw.url).get(`/jobs/${other.job_id}`).set(s.headers)).body.status, (st) => st === 'completed', 120_000, 'the second training');
    await page.goto(`${gw.url}/ui/#/experiments`);
    for (const id of [experimentId, other.experiment_id]) await page.getByRole('checkbox', { name: new RegExp(`\\(${id.slice(0, 8)}\\)`) }).check();
    await page.getByRole('button', { name: 'Compare selected' }).click();
    await page.getByRole('heading', { name: 'Compare experiments' }).waitFor();
    const body = (await page.locator('main').textContent()) ?? '';
    expect(body).toContain('learning_rate');
    expect(body).toContain('epochs');
    expect(body).not.toContain('batch_size');
    expect(await page.locator('.best').count()).toBeGreaterThanOrEqual(1);
    await shot(page, 'compare');
  });

  it('deploys the trained model and predicts a digit drawn on the canvas', async () => {
    const job = (await request(gw.url).get(`/experiments/${experimentId}`).set(s.headers)).body;
    await page.goto(`${gw.url}/ui/#/models/${job.model_id}`);
    await page.getByLabel('Deployment name').fill('digits-ui');
    await page.getByRole('button', { name: 'Deploy', exact: true }).click();
    await page.waitForURL(/#\/deployments\/[0-9a-f-]{36}/);
    await page.getByText('deployed').first().waitFor({ timeout: 60_000 });
    const canvas = page.getByLabel('Drawing area');
    const box = (await canvas.boundingBox())!;
    // A "1": one vertical stroke down the middle.
    await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.2);
    await page.mouse.down();
    for (let i = 1; i <= 12; i++) await page.mouse.move(box.x + box.width / 2, box.y + box.height * (0.2 + (0.6 * i) / 12));
    await page.mouse.up();
    await page.getByRole('button', { name: 'Predict', exact: true }).click();
    const bars = page.getByRole('list', { name: 'Class probabilities' }).getByRole('listitem');
    await bars.first().waitFor();
    expect(await bars.count()).toBe(10);
    const labels = await Promise.all((await bars.all()).map(async (b) => (await b.getAttribute('aria-label')) ?? ''));
    const total = labels.map((l) => Number(/([\d.]+)%/.exec(l)?.[1] ?? NaN)).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(98);
    expect(total).toBeLessThan(102);
    await shot(page, 'predict');
  });

  it('shows a sweep: its leaderboard, each parameter against the metric, and every trial\'s curve', async () => {
    const dsl = 'network S {\n  input: (4,)\n  layers:\n    Dense(HPO(choice(4, 16)), activation="relu")\n    Output(3, "softmax")\n  loss: "sparse_categorical_crossentropy"\n  optimizer: Adam(learning_rate=HPO(choice(0.001, 0.05)))\n}';
    const sweep = (await request(gw.url).post('/jobs/hpo').set(s.headers).send({ dsl_code: dsl, backend: 'tensorflow', dataset: 'Iris', training_config: { epochs: 4 }, seed: 3, search: { strategy: 'grid', parallelism: 2 } }).expect(202)).body;
    await page.goto(`${gw.url}/ui/#/jobs/${sweep.job_id}`);
    await waitUntil(async () => (await request(gw.url).get(`/jobs/${sweep.job_id}`).set(s.headers)).body.status, (st) => st === 'completed', 120_000, 'the sweep');
    const board = page.getByRole('table', { name: 'Leaderboard' });
    await board.getByRole('row').nth(4).waitFor();
    expect(await board.getByRole('row').count()).toBe(5);
    await page.getByRole('img', { name: 'dense_1.units vs val_accuracy' }).waitFor();
    await page.getByRole('img', { name: 'optimizer.learning_rate vs val_accuracy' }).waitFor();
    await page.getByRole('img', { name: 'val_accuracy per trial' }).waitFor();
    const done = (await request(gw.url).get(`/jobs/${sweep.job_id}`).set(s.headers)).body;
    const best = done.sweep.best.trial as number;
    await board.getByRole('row', { name: `Trial ${best} (best)` }).waitFor();
    for (const e of done.sweep.leaderboard.filter((x: { status: string }) => x.status === 'pruned')) await board.getByText(`pruned at epoch ${e.pruned_at_epoch}`).first().waitFor();
    await shot(page, 'sweep');
  });

  it('works at phone width: no page scrolls sideways', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    for (const route of ['playground', 'jobs', 'experiments', 'models', 'deployments']) {
      await page.goto(`${gw.url}/ui/#/${route}`);
      await page.getByRole('navigation', { name: 'Main' }).waitFor();
      await page.waitForLoadState('networkidle').catch(() => undefined);
      // A string, evaluated in the page: this file is compiled without the DOM's types.
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect([route, overflow]).toEqual([route, 0]);
      if (route === 'jobs' || route === 'playground') await shot(page, `${route}-phone`);
    }
  });
});
