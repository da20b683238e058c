'use strict';
// Container health check with node alone (no curl in the slim image). Role: argv[2], NEURAL_ROLE, or the entrypoint's
// first argument as PID 1 (tini) was given it. Exit 0 healthy, 1 not.
//   gateway: GET /health/ready on the local port must answer 2xx.
//   worker:  with WORKER_METRICS_PORT set, GET /metrics on it must answer 2xx (this process's event loop answers);
//            without it, the workers' shared heartbeat in Redis must be younger than 3 beats (15 s), which says "some
//            worker on this Redis is alive", not "this one is".
const { readFileSync } = require('node:fs');
const http = require('node:http');

const TIMEOUT_MS = 4000;

function role() {
  if (process.argv[2]) return process.argv[2];
  if (process.env.NEURAL_ROLE) return process.env.NEURAL_ROLE;
  try {
    const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
    if (argv.includes('worker')) return 'worker';
  } catch {
    // not Linux, or /proc hidden: the image's default role
  }
  return 'gateway';
}

function get2xx(port, path) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      const code = res.statusCode || 0;
      if (code >= 200 && code < 300) resolve();
      else reject(new Error(`GET ${path} answered ${code}`));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

const checkGateway = () => get2xx(Number(process.env.API_PORT || 8000), '/health/ready');

async function checkWorker() {
  if (process.env.WORKER_METRICS_PORT) return get2xx(Number(process.env.WORKER_METRICS_PORT), '/metrics');
  const url = process.env.REDIS_URL || process.env.CELERY_BROKER_URL;
  if (!url) throw new Error('REDIS_URL is not set (the worker runs only in distributed mode)');
  const Redis = require('ioredis');
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: TIMEOUT_MS, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  try {
    await redis.connect();
    const key = `${process.env.REDIS_KEY_PREFIX || 'neural'}:worker:heartbeat`;
    const beat = Number(await redis.get(key));
    if (!Number.isFinite(beat) || beat <= 0) throw new Error(`no worker heartbeat at ${key}`);
    const age = Date.now() - beat;
    if (age > 15000) throw new Error(`last worker heartbeat ${Math.round(age / 1000)} s ago`);
  } finally {
    redis.disconnect();
  }
}

const timer = setTimeout(() => {
  console.error('health check timed out');
  process.exit(1);
}, TIMEOUT_MS + 1000);

(role() === 'worker' ? checkWorker() : checkGateway()).then(
  () => process.exit(0),
  (err) => {
    clearTimeout(timer);
    console.error(`unhealthy: ${err.message}`);
    process.exit(1);
  },
);
