import { MigrationInterface, QueryRunner } from 'typeorm';

/** experiments, datasets, webhook_deliveries; tenants.webhook_secret; models.experiment_id and formats (PostgreSQL). */
export class TrainingPostgres1764979200000 implements MigrationInterface {
  name = 'TrainingPostgres1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "experiments" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "name" character varying(200) NOT NULL, "job_id" uuid NOT NULL, "model_id" uuid, "status" character varying(16) NOT NULL, "dsl" text NOT NULL, "backend" character varying(16) NOT NULL, "engine" character varying(16) NOT NULL, "compute_backend" character varying(64), "dataset" character varying(200) NOT NULL, "dataset_id" uuid, "seed" integer, "hyperparameters" jsonb NOT NULL, "plan" jsonb NOT NULL, "history" jsonb NOT NULL, "final_metrics" jsonb, "best_metrics" jsonb, "test_metrics" jsonb, "artifacts" jsonb NOT NULL, "checkpoint_key" character varying(512), "checkpoint_epoch" integer, "error" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "chk_experiments_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_experiments_backend" CHECK ("backend" IN ('tensorflow', 'pytorch', 'onnx')), CONSTRAINT "pk_experiments" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "idx_experiments_tenant_created" ON "experiments" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_name" ON "experiments" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_experiments_tenant_status" ON "experiments" ("tenant_id", "status")`);
    await q.query(`CREATE UNIQUE INDEX "uq_experiments_job_id" ON "experiments" ("job_id")`);
    await q.query(
      `CREATE TABLE "datasets" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "name" character varying(100) NOT NULL, "format" character varying(8) NOT NULL, "task" character varying(16) NOT NULL, "sample_shape" jsonb NOT NULL, "label_shape" jsonb NOT NULL, "num_classes" integer, "class_names" jsonb, "train_samples" integer NOT NULL, "test_samples" integer NOT NULL, "size_bytes" integer NOT NULL, "raw_key" character varying(512) NOT NULL, "data_key" character varying(512) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "chk_datasets_format" CHECK ("format" IN ('csv', 'json')), CONSTRAINT "chk_datasets_task" CHECK ("task" IN ('classification', 'regression')), CONSTRAINT "pk_datasets" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_datasets_tenant_name" ON "datasets" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_datasets_tenant_created" ON "datasets" ("tenant_id", "created_at")`);
    await q.query(
      `CREATE TABLE "webhook_deliveries" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "job_id" uuid NOT NULL, "event" character varying(16) NOT NULL, "url" character varying(2048) NOT NULL, "payload" text NOT NULL, "status" character varying(16) NOT NULL, "attempts" integer NOT NULL DEFAULT '0', "max_attempts" integer NOT NULL, "next_attempt_at" TIMESTAMP WITH TIME ZONE, "last_status_code" integer, "last_error" character varying(500), "attempt_log" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "delivered_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chk_webhook_deliveries_event" CHECK ("event" IN ('started', 'progress', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_webhook_deliveries_status" CHECK ("status" IN ('pending', 'delivered', 'failed')), CONSTRAINT "pk_webhook_deliveries" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "idx_webhook_deliveries_tenant_job" ON "webhook_deliveries" ("tenant_id", "job_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_webhook_deliveries_status_next" ON "webhook_deliveries" ("status", "next_attempt_at")`);
    await q.query(`ALTER TABLE "tenants" ADD "webhook_secret" character varying(128)`);
    await q.query(`ALTER TABLE "models" ADD "experiment_id" uuid`);
    await q.query(`ALTER TABLE "models" ADD "formats" jsonb`);
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
