import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * experiments, datasets, webhook_deliveries; tenants.webhook_secret; models.experiment_id and formats (SQLite).
 * Columns are added with ALTER TABLE rather than TypeORM's copy-and-rename: dropping `tenants` with foreign keys on
 * would cascade into api_keys.
 */
export class TrainingSqlite1764979200000 implements MigrationInterface {
  name = 'TrainingSqlite1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "experiments" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "job_id" varchar(36) NOT NULL, "model_id" varchar(36), "status" varchar(16) NOT NULL, "dsl" text NOT NULL, "backend" varchar(16) NOT NULL, "engine" varchar(16) NOT NULL, "compute_backend" varchar(64), "dataset" varchar(200) NOT NULL, "dataset_id" varchar(36), "seed" integer, "hyperparameters" text NOT NULL, "plan" text NOT NULL, "history" text NOT NULL, "final_metrics" text, "best_metrics" text, "test_metrics" text, "artifacts" text NOT NULL, "checkpoint_key" varchar(512), "checkpoint_epoch" integer, "error" text, "created_at" datetime NOT NULL, "started_at" datetime, "completed_at" datetime, "updated_at" datetime NOT NULL, CONSTRAINT "chk_experiments_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_experiments_backend" CHECK ("backend" IN ('tensorflow', 'pytorch', 'onnx')))`,
    );
    await q.query(`CREATE INDEX "idx_experiments_tenant_created" ON "experiments" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_name" ON "experiments" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_status" ON "experiments" ("tenant_id", "status")`);
    await q.query(`CREATE UNIQUE INDEX "uq_experiments_job_id" ON "experiments" ("job_id")`);
    await q.query(
      `CREATE TABLE "datasets" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(100) NOT NULL, "format" varchar(8) NOT NULL, "task" varchar(16) NOT NULL, "sample_shape" text NOT NULL, "label_shape" text NOT NULL, "num_classes" integer, "class_names" text, "train_samples" integer NOT NULL, "test_samples" integer NOT NULL, "size_bytes" integer NOT NULL, "raw_key" varchar(512) NOT NULL, "data_key" varchar(512) NOT NULL, "created_at" datetime NOT NULL, CONSTRAINT "chk_datasets_format" CHECK ("format" IN ('csv', 'json')), CONSTRAINT "chk_datasets_task" CHECK ("task" IN ('classification', 'regression')))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_datasets_tenant_name" ON "datasets" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_datasets_tenant_created" ON "datasets" ("tenant_id", "created_at")`);
    await q.query(
      `CREATE TABLE "webhook_deliveries" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "job_id" varchar(36) NOT NULL, "event" varchar(16) NOT NULL, "url" varchar(2048) NOT NULL, "payload" text NOT NULL, "status" varchar(16) NOT NULL, "attempts" integer NOT NULL DEFAULT (0), "max_attempts" integer NOT NULL, "next_attempt_at" datetime, "last_status_code" integer, "last_error" varchar(500), "attempt_log" text NOT NULL, "created_at" datetime NOT NULL, "updated_at" datetime NOT NULL, "delivered_at" datetime, CONSTRAINT "chk_webhook_deliveries_event" CHECK ("event" IN ('started', 'progress', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')))`,
    );
    await q.query(`CREATE INDEX "idx_webhook_deliveries_tenant_job" ON "webhook_deliveries" ("tenant_id", "job_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_webhook_deliveries_status_next" ON "webhook_deliveries" ("status", "next_attempt_at")`);
    await q.query(`ALTER TABLE "tenants" ADD COLUMN "webhook_secret" varchar(128)`);
    await q.query(`ALTER TABLE "models" ADD COLUMN "experiment_id" varchar(36)`);
    await q.query(`ALTER TABLE "models" ADD COLUMN "formats" text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "models" DROP COLUMN "formats"`);
    await q.query(`ALTER TABLE "models" DROP COLUMN "experiment_id"`);
    await q.query(`ALTER TABLE "tenants" DROP COLUMN "webhook_secret"`);
    await q.query(`DROP TABLE "webhook_deliveries"`);
    await q.query(`DROP TABLE "datasets"`);
    await q.query(`DROP TABLE "experiments"`);
  }
}
