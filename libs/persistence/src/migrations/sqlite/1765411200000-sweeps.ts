import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Hyperparameter sweeps: jobs.sweep_id, trial_index (unique per sweep) and worker_id, experiments.sweep_id,
 * models.sweep_id and hyperparameters, the `hpo` job type, the `pruned` status and the `trial_finished` webhook event (SQLite, where the tables are rebuilt for the new checks).
 */
export class SweepsSqlite1765411200000 implements MigrationInterface {
  name = 'SweepsSqlite1765411200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "idx_jobs_status_updated"`);
    await q.query(`DROP INDEX "idx_jobs_tenant_type"`);
    await q.query(`DROP INDEX "idx_jobs_tenant_status"`);
    await q.query(`DROP INDEX "idx_jobs_tenant_created"`);
    await q.query(`CREATE TABLE "temporary_jobs" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "type" varchar(16) NOT NULL, "status" varchar(16) NOT NULL, "progress" integer NOT NULL DEFAULT (0), "current_epoch" integer, "total_epochs" integer, "input" text NOT NULL, "result" text, "error" text, "metrics" text, "experiment_id" varchar(36), "model_id" varchar(36), "webhook_url" varchar(2048), "attempts" integer NOT NULL DEFAULT (0), "created_at" datetime NOT NULL, "started_at" datetime, "completed_at" datetime, "updated_at" datetime NOT NULL, "sweep_id" varchar(36), "trial_index" integer, "worker_id" varchar(128), CONSTRAINT "chk_jobs_type" CHECK ("type" IN ('compile', 'train', 'deploy', 'hpo')), CONSTRAINT "chk_jobs_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'pruned')), CONSTRAINT "chk_jobs_progress" CHECK (("progress" BETWEEN 0 AND 100)))`);
    await q.query(`INSERT INTO "temporary_jobs"("id", "tenant_id", "type", "status", "progress", "current_epoch", "total_epochs", "input", "result", "error", "metrics", "experiment_id", "model_id", "webhook_url", "attempts", "created_at", "started_at", "completed_at", "updated_at") SELECT "id", "tenant_id", "type", "status", "progress", "current_epoch", "total_epochs", "input", "result", "error", "metrics", "experiment_id", "model_id", "webhook_url", "attempts", "created_at", "started_at", "completed_at", "updated_at" FROM "jobs"`);
    await q.query(`DROP TABLE "jobs"`);
    await q.query(`ALTER TABLE "temporary_jobs" RENAME TO "jobs"`);
    await q.query(`CREATE INDEX "idx_jobs_status_updated" ON "jobs" ("status", "updated_at")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_type" ON "jobs" ("tenant_id", "type")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_status" ON "jobs" ("tenant_id", "status")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_created" ON "jobs" ("tenant_id", "created_at")`);
    await q.query(`DROP INDEX "idx_models_tenant_name"`);
    await q.query(`DROP INDEX "idx_models_tenant_backend"`);
    await q.query(`DROP INDEX "idx_models_tenant_created"`);
    await q.query(`CREATE TABLE "temporary_models" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "backend" varchar(16) NOT NULL, "dsl" text NOT NULL, "summary" text NOT NULL, "warnings" text NOT NULL, "artifact_key" varchar(512) NOT NULL, "size_bytes" integer NOT NULL, "content_type" varchar(100) NOT NULL, "filename" varchar(255) NOT NULL, "job_id" varchar(36), "created_at" datetime NOT NULL, "experiment_id" varchar(36), "formats" text, "sweep_id" varchar(36), "hyperparameters" text, CONSTRAINT "chk_models_backend" CHECK (("backend" IN ('tensorflow', 'pytorch', 'onnx'))))`);
    await q.query(`INSERT INTO "temporary_models"("id", "tenant_id", "name", "backend", "dsl", "summary", "warnings", "artifact_key", "size_bytes", "content_type", "filename", "job_id", "created_at", "experiment_id", "formats") SELECT "id", "tenant_id", "name", "backend", "dsl", "summary", "warnings", "artifact_key", "size_bytes", "content_type", "filename", "job_id", "created_at", "experiment_id", "formats" FROM "models"`);
    await q.query(`DROP TABLE "models"`);
    await q.query(`ALTER TABLE "temporary_models" RENAME TO "models"`);
    await q.query(`CREATE INDEX "idx_models_tenant_name" ON "models" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_models_tenant_backend" ON "models" ("tenant_id", "backend")`);
    await q.query(`CREATE INDEX "idx_models_tenant_created" ON "models" ("tenant_id", "created_at")`);
    await q.query(`DROP INDEX "uq_experiments_job_id"`);
    await q.query(`DROP INDEX "idx_experiments_tenant_status"`);
    await q.query(`DROP INDEX "idx_experiments_tenant_name"`);
    await q.query(`DROP INDEX "idx_experiments_tenant_created"`);
    await q.query(`CREATE TABLE "temporary_experiments" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "job_id" varchar(36) NOT NULL, "model_id" varchar(36), "status" varchar(16) NOT NULL, "dsl" text NOT NULL, "backend" varchar(16) NOT NULL, "engine" varchar(16) NOT NULL, "compute_backend" varchar(64), "dataset" varchar(200) NOT NULL, "dataset_id" varchar(36), "seed" integer, "hyperparameters" text NOT NULL, "plan" text NOT NULL, "history" text NOT NULL, "final_metrics" text, "best_metrics" text, "test_metrics" text, "artifacts" text NOT NULL, "checkpoint_key" varchar(512), "checkpoint_epoch" integer, "error" text, "created_at" datetime NOT NULL, "started_at" datetime, "completed_at" datetime, "updated_at" datetime NOT NULL, "sweep_id" varchar(36), CONSTRAINT "chk_experiments_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'pruned')), CONSTRAINT "chk_experiments_backend" CHECK (("backend" IN ('tensorflow', 'pytorch', 'onnx'))))`);
    await q.query(`INSERT INTO "temporary_experiments"("id", "tenant_id", "name", "job_id", "model_id", "status", "dsl", "backend", "engine", "compute_backend", "dataset", "dataset_id", "seed", "hyperparameters", "plan", "history", "final_metrics", "best_metrics", "test_metrics", "artifacts", "checkpoint_key", "checkpoint_epoch", "error", "created_at", "started_at", "completed_at", "updated_at") SELECT "id", "tenant_id", "name", "job_id", "model_id", "status", "dsl", "backend", "engine", "compute_backend", "dataset", "dataset_id", "seed", "hyperparameters", "plan", "history", "final_metrics", "best_metrics", "test_metrics", "artifacts", "checkpoint_key", "checkpoint_epoch", "error", "created_at", "started_at", "completed_at", "updated_at" FROM "experiments"`);
    await q.query(`DROP TABLE "experiments"`);
    await q.query(`ALTER TABLE "temporary_experiments" RENAME TO "experiments"`);
    await q.query(`CREATE UNIQUE INDEX "uq_experiments_job_id" ON "experiments" ("job_id")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_status" ON "experiments" ("tenant_id", "status")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_name" ON "experiments" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_created" ON "experiments" ("tenant_id", "created_at")`);
    await q.query(`CREATE UNIQUE INDEX "uq_jobs_sweep_trial" ON "jobs" ("sweep_id", "trial_index")`);
    await q.query(`CREATE INDEX "idx_experiments_sweep" ON "experiments" ("sweep_id")`);
    await q.query(`DROP INDEX "idx_webhook_deliveries_tenant_job"`);
    await q.query(`DROP INDEX "idx_webhook_deliveries_status_next"`);
    await q.query(`CREATE TABLE "temporary_webhook_deliveries" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "job_id" varchar(36) NOT NULL, "event" varchar(16) NOT NULL, "url" varchar(2048) NOT NULL, "payload" text NOT NULL, "status" varchar(16) NOT NULL, "attempts" integer NOT NULL DEFAULT (0), "max_attempts" integer NOT NULL, "next_attempt_at" datetime, "last_status_code" integer, "last_error" varchar(500), "attempt_log" text NOT NULL, "created_at" datetime NOT NULL, "updated_at" datetime NOT NULL, "delivered_at" datetime, CONSTRAINT "chk_webhook_deliveries_event" CHECK ("event" IN ('started', 'progress', 'completed', 'failed', 'cancelled', 'trial_finished')), CONSTRAINT "chk_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')))`);
    await q.query(`INSERT INTO "temporary_webhook_deliveries"("id", "tenant_id", "job_id", "event", "url", "payload", "status", "attempts", "max_attempts", "next_attempt_at", "last_status_code", "last_error", "attempt_log", "created_at", "updated_at", "delivered_at") SELECT "id", "tenant_id", "job_id", "event", "url", "payload", "status", "attempts", "max_attempts", "next_attempt_at", "last_status_code", "last_error", "attempt_log", "created_at", "updated_at", "delivered_at" FROM "webhook_deliveries"`);
    await q.query(`DROP TABLE "webhook_deliveries"`);
    await q.query(`ALTER TABLE "temporary_webhook_deliveries" RENAME TO "webhook_deliveries"`);
    await q.query(`CREATE INDEX "idx_webhook_deliveries_tenant_job" ON "webhook_deliveries" ("tenant_id", "job_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_webhook_deliveries_status_next" ON "webhook_deliveries" ("status", "next_attempt_at")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "webhook_deliveries" WHERE "event" = 'trial_finished'`);
    await q.query(`DROP INDEX "idx_webhook_deliveries_tenant_job"`);
    await q.query(`DROP INDEX "idx_webhook_deliveries_status_next"`);
    await q.query(`CREATE TABLE "temporary_webhook_deliveries" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "job_id" varchar(36) NOT NULL, "event" varchar(16) NOT NULL, "url" varchar(2048) NOT NULL, "payload" text NOT NULL, "status" varchar(16) NOT NULL, "attempts" integer NOT NULL DEFAULT (0), "max_attempts" integer NOT NULL, "next_attempt_at" datetime, "last_status_code" integer, "last_error" varchar(500), "attempt_log" text NOT NULL, "created_at" datetime NOT NULL, "updated_at" datetime NOT NULL, "delivered_at" datetime, CONSTRAINT "chk_webhook_deliveries_event" CHECK ("event" IN ('started', 'progress', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')))`);
    await q.query(`INSERT INTO "temporary_webhook_deliveries"("id", "tenant_id", "job_id", "event", "url", "payload", "status", "attempts", "max_attempts", "next_attempt_at", "last_status_code", "last_error", "attempt_log", "created_at", "updated_at", "delivered_at") SELECT "id", "tenant_id", "job_id", "event", "url", "payload", "status", "attempts", "max_attempts", "next_attempt_at", "last_status_code", "last_error", "attempt_log", "created_at", "updated_at", "delivered_at" FROM "webhook_deliveries"`);
    await q.query(`DROP TABLE "webhook_deliveries"`);
    await q.query(`ALTER TABLE "temporary_webhook_deliveries" RENAME TO "webhook_deliveries"`);
    await q.query(`CREATE INDEX "idx_webhook_deliveries_tenant_job" ON "webhook_deliveries" ("tenant_id", "job_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_webhook_deliveries_status_next" ON "webhook_deliveries" ("status", "next_attempt_at")`);
    await q.query(`UPDATE "experiments" SET "status" = 'cancelled' WHERE "status" = 'pruned'`);
    await q.query(`UPDATE "jobs" SET "status" = 'cancelled' WHERE "status" = 'pruned'`);
    await q.query(`DELETE FROM "jobs" WHERE "type" = 'hpo'`);
    await q.query(`DROP INDEX "idx_experiments_sweep"`);
    await q.query(`DROP INDEX "uq_jobs_sweep_trial"`);
    await q.query(`DROP INDEX "idx_experiments_tenant_created"`);
    await q.query(`DROP INDEX "idx_experiments_tenant_name"`);
    await q.query(`DROP INDEX "idx_experiments_tenant_status"`);
    await q.query(`DROP INDEX "uq_experiments_job_id"`);
    await q.query(`ALTER TABLE "experiments" RENAME TO "temporary_experiments"`);
    await q.query(`CREATE TABLE "experiments" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "job_id" varchar(36) NOT NULL, "model_id" varchar(36), "status" varchar(16) NOT NULL, "dsl" text NOT NULL, "backend" varchar(16) NOT NULL, "engine" varchar(16) NOT NULL, "compute_backend" varchar(64), "dataset" varchar(200) NOT NULL, "dataset_id" varchar(36), "seed" integer, "hyperparameters" text NOT NULL, "plan" text NOT NULL, "history" text NOT NULL, "final_metrics" text, "best_metrics" text, "test_metrics" text, "artifacts" text NOT NULL, "checkpoint_key" varchar(512), "checkpoint_epoch" integer, "error" text, "created_at" datetime NOT NULL, "started_at" datetime, "completed_at" datetime, "updated_at" datetime NOT NULL, CONSTRAINT "chk_experiments_status" CHECK (("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled'))), CONSTRAINT "chk_experiments_backend" CHECK (("backend" IN ('tensorflow', 'pytorch', 'onnx'))))`);
    await q.query(`INSERT INTO "experiments"("id", "tenant_id", "name", "job_id", "model_id", "status", "dsl", "backend", "engine", "compute_backend", "dataset", "dataset_id", "seed", "hyperparameters", "plan", "history", "final_metrics", "best_metrics", "test_metrics", "artifacts", "checkpoint_key", "checkpoint_epoch", "error", "created_at", "started_at", "completed_at", "updated_at") SELECT "id", "tenant_id", "name", "job_id", "model_id", "status", "dsl", "backend", "engine", "compute_backend", "dataset", "dataset_id", "seed", "hyperparameters", "plan", "history", "final_metrics", "best_metrics", "test_metrics", "artifacts", "checkpoint_key", "checkpoint_epoch", "error", "created_at", "started_at", "completed_at", "updated_at" FROM "temporary_experiments"`);
    await q.query(`DROP TABLE "temporary_experiments"`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_created" ON "experiments" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_name" ON "experiments" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_status" ON "experiments" ("tenant_id", "status")`);
    await q.query(`CREATE UNIQUE INDEX "uq_experiments_job_id" ON "experiments" ("job_id")`);
    await q.query(`DROP INDEX "idx_models_tenant_created"`);
    await q.query(`DROP INDEX "idx_models_tenant_backend"`);
    await q.query(`DROP INDEX "idx_models_tenant_name"`);
    await q.query(`ALTER TABLE "models" RENAME TO "temporary_models"`);
    await q.query(`CREATE TABLE "models" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "backend" varchar(16) NOT NULL, "dsl" text NOT NULL, "summary" text NOT NULL, "warnings" text NOT NULL, "artifact_key" varchar(512) NOT NULL, "size_bytes" integer NOT NULL, "content_type" varchar(100) NOT NULL, "filename" varchar(255) NOT NULL, "job_id" varchar(36), "created_at" datetime NOT NULL, "experiment_id" varchar(36), "formats" text, CONSTRAINT "chk_models_backend" CHECK (("backend" IN ('tensorflow', 'pytorch', 'onnx'))))`);
    await q.query(`INSERT INTO "models"("id", "tenant_id", "name", "backend", "dsl", "summary", "warnings", "artifact_key", "size_bytes", "content_type", "filename", "job_id", "created_at", "experiment_id", "formats") SELECT "id", "tenant_id", "name", "backend", "dsl", "summary", "warnings", "artifact_key", "size_bytes", "content_type", "filename", "job_id", "created_at", "experiment_id", "formats" FROM "temporary_models"`);
    await q.query(`DROP TABLE "temporary_models"`);
    await q.query(`CREATE INDEX "idx_models_tenant_created" ON "models" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_models_tenant_backend" ON "models" ("tenant_id", "backend")`);
    await q.query(`CREATE INDEX "idx_models_tenant_name" ON "models" ("tenant_id", "name")`);
    await q.query(`DROP INDEX "idx_jobs_tenant_created"`);
    await q.query(`DROP INDEX "idx_jobs_tenant_status"`);
    await q.query(`DROP INDEX "idx_jobs_tenant_type"`);
    await q.query(`DROP INDEX "idx_jobs_status_updated"`);
    await q.query(`ALTER TABLE "jobs" RENAME TO "temporary_jobs"`);
    await q.query(`CREATE TABLE "jobs" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "type" varchar(16) NOT NULL, "status" varchar(16) NOT NULL, "progress" integer NOT NULL DEFAULT (0), "current_epoch" integer, "total_epochs" integer, "input" text NOT NULL, "result" text, "error" text, "metrics" text, "experiment_id" varchar(36), "model_id" varchar(36), "webhook_url" varchar(2048), "attempts" integer NOT NULL DEFAULT (0), "created_at" datetime NOT NULL, "started_at" datetime, "completed_at" datetime, "updated_at" datetime NOT NULL, CONSTRAINT "chk_jobs_type" CHECK (("type" IN ('compile', 'train', 'deploy'))), CONSTRAINT "chk_jobs_status" CHECK (("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled'))), CONSTRAINT "chk_jobs_progress" CHECK (("progress" BETWEEN 0 AND 100)))`);
    await q.query(`INSERT INTO "jobs"("id", "tenant_id", "type", "status", "progress", "current_epoch", "total_epochs", "input", "result", "error", "metrics", "experiment_id", "model_id", "webhook_url", "attempts", "created_at", "started_at", "completed_at", "updated_at") SELECT "id", "tenant_id", "type", "status", "progress", "current_epoch", "total_epochs", "input", "result", "error", "metrics", "experiment_id", "model_id", "webhook_url", "attempts", "created_at", "started_at", "completed_at", "updated_at" FROM "temporary_jobs"`);
    await q.query(`DROP TABLE "temporary_jobs"`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_created" ON "jobs" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_status" ON "jobs" ("tenant_id", "status")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_type" ON "jobs" ("tenant_id", "type")`);
    await q.query(`CREATE INDEX "idx_jobs_status_updated" ON "jobs" ("status", "updated_at")`);
  }
}
