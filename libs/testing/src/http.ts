import request from 'supertest';

/** Polls `GET /jobs/{id}` until the job finishes and returns it (the API is the only interface a client has). */
export async function jobFinished(url: string, headers: Record<string, string>, jobId: string, timeoutMs = 60_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(url).get(`/jobs/${jobId}`).set(headers).expect(200);
    if (['completed', 'failed', 'cancelled'].includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${res.body.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
