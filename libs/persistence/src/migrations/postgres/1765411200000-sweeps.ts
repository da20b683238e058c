import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hyperparameter sweeps: jobs.sweep_id, trial_index (unique per sweep) and worker_id, experiments.sweep_id,
 * models.sweep_id and hyperparameters, the `hpo` job type, the `pruned` status and the `trial_finished` webhook event (PostgreSQL).
 */
export class SweepsPostgres1765411200000 implements MigrationInterface {
  name = 'SweepsPostgres1765411200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "jobs" ADD "sweep_id" uuid`);
    await q.query(`ALTER TABLE "jobs" ADD "trial_index" integer`);
    await q.query(`ALTER TABLE "jobs" ADD "worker_id" character varying(128)`);
    await q.query(`ALTER TABLE "models" ADD "sweep_id" uuid`);
    await q.query(`ALTER TABLE "models" ADD "hyperparameters" jsonb`);
    await q.query(`ALTER TABLE "experiments" ADD "sweep_id" uuid`);
    await q.query(`CREATE UNIQUE INDEX "uq_jobs_sweep_trial" ON "jobs"("sweep_id", "trial_index")`);
    await q.query(`CREATE INDEX "idx_experiments_sweep" ON "experiments"("sweep_id")`);
    await q.query(`ALTER TABLE "jobs" DROP CONSTRAINT "chk_jobs_type"`);
    await q.query(`ALTER TABLE "jobs" ADD CONSTRAINT "chk_jobs_type" CHECK ("type" IN ('compile', 'train', 'deploy', 'hpo'))`);
    await q.query(`ALTER TABLE "jobs" DROP CONSTRAINT "chk_jobs_status"`);
    await q.query(`ALTER TABLE "jobs" ADD CONSTRAINT "chk_jobs_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'pruned'))`);
    await q.query(`ALTER TABLE "experiments" DROP CONSTRAINT "chk_experiments_status"`);
    await q.query(`ALTER TABLE "experiments" ADD CONSTRAINT "chk_experiments_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'pruned'))`);
    await q.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "chk_webhook_deliveries_event"`);
    await q.query(`ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "chk_webhook_deliveries_event" CHECK ("event" IN ('started', 'progress', 'completed', 'failed', 'cancelled', 'trial_finished'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "webhook_deliveries" WHERE "event" = 'trial_finished'`);
    await q.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "chk_webhook_deliveries_event"`);
    await q.query(`ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "chk_webhook_deliveries_event" CHECK ("event" IN ('started', 'progress', 'completed', 'failed', 'cancelled'))`);
    await q.query(`UPDATE "experiments" SET "status" = 'cancelled' WHERE "status" = 'pruned'`);
    await q.query(`UPDATE "jobs" SET "status" = 'cancelled' WHERE "status" = 'pruned'`);
    await q.query(`DELETE FROM "jobs" WHERE "type" = 'hpo'`);
    await q.query(`ALTER TABLE "experiments" DROP CONSTRAINT "chk_experiments_status"`);
    await q.query(`ALTER TABLE "experiments" ADD CONSTRAINT "chk_experiments_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled'))`);
    await q.query(`ALTER TABLE "jobs" DROP CONSTRAINT "chk_jobs_status"`);
    await q.query(`ALTER TABLE "jobs" ADD CONSTRAINT "chk_jobs_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled'))`);
    await q.query(`ALTER TABLE "jobs" DROP CONSTRAINT "chk_jobs_type"`);
    await q.query(`ALTER TABLE "jobs" ADD CONSTRAINT "chk_jobs_type" CHECK ("type" IN ('compile', 'train', 'deploy'))`);
    await q.query(`DROP INDEX "public"."idx_experiments_sweep"`);
    await q.query(`DROP INDEX "public"."uq_jobs_sweep_trial"`);
    await q.query(`ALTER TABLE "experiments" DROP COLUMN "sweep_id"`);
    await q.query(`ALTER TABLE "models" DROP COLUMN "hyperparameters"`);
    await q.query(`ALTER TABLE "models" DROP COLUMN "sweep_id"`);
    await q.query(`ALTER TABLE "jobs" DROP COLUMN "worker_id"`);
    await q.query(`ALTER TABLE "jobs" DROP COLUMN "trial_index"`);
    await q.query(`ALTER TABLE "jobs" DROP COLUMN "sweep_id"`);
  }
}
