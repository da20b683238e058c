import { MigrationInterface, QueryRunner } from 'typeorm';

/** tenants, api_keys, jobs, models (SQLite: uuid as varchar(36), json as text, timestamps as UTC datetime text). */
export class InitialSchemaSqlite1764288000000 implements MigrationInterface {
  name = 'InitialSchemaSqlite1764288000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "tenants" ("id" varchar(36) PRIMARY KEY NOT NULL, "name" varchar(200) NOT NULL, "created_at" datetime NOT NULL)`,
    );
    await q.query(
      `CREATE TABLE "api_keys" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "prefix" varchar(16) NOT NULL, "key_hash" varchar(64) NOT NULL, "scopes" text NOT NULL, "created_at" datetime NOT NULL, "last_used_at" datetime, "revoked_at" datetime, CONSTRAINT "fk_api_keys_tenant_id" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE CASCADE ON UPDATE NO ACTION)`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_api_keys_key_hash" ON "api_keys" ("key_hash")`);
    await q.query(`CREATE INDEX "idx_api_keys_tenant_id" ON "api_keys" ("tenant_id")`);
    await q.query(
      `CREATE TABLE "jobs" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "type" varchar(16) NOT NULL, "status" varchar(16) NOT NULL, "progress" integer NOT NULL DEFAULT (0), "current_epoch" integer, "total_epochs" integer, "input" text NOT NULL, "result" text, "error" text, "metrics" text, "experiment_id" varchar(36), "model_id" varchar(36), "webhook_url" varchar(2048), "attempts" integer NOT NULL DEFAULT (0), "created_at" datetime NOT NULL, "started_at" datetime, "completed_at" datetime, "updated_at" datetime NOT NULL, CONSTRAINT "chk_jobs_type" CHECK ("type" IN ('compile', 'train', 'deploy')), CONSTRAINT "chk_jobs_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_jobs_progress" CHECK ("progress" BETWEEN 0 AND 100))`,
    );
    await q.query(`CREATE INDEX "idx_jobs_tenant_created" ON "jobs" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_status" ON "jobs" ("tenant_id", "status")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_type" ON "jobs" ("tenant_id", "type")`);
    await q.query(`CREATE INDEX "idx_jobs_status_updated" ON "jobs" ("status", "updated_at")`);
    await q.query(
      `CREATE TABLE "models" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(200) NOT NULL, "backend" varchar(16) NOT NULL, "dsl" text NOT NULL, "summary" text NOT NULL, "warnings" text NOT NULL, "artifact_key" varchar(512) NOT NULL, "size_bytes" integer NOT NULL, "content_type" varchar(100) NOT NULL, "filename" varchar(255) NOT NULL, "job_id" varchar(36), "created_at" datetime NOT NULL, CONSTRAINT "chk_models_backend" CHECK ("backend" IN ('tensorflow', 'pytorch', 'onnx')))`,
    );
    await q.query(`CREATE INDEX "idx_models_tenant_created" ON "models" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_models_tenant_backend" ON "models" ("tenant_id", "backend")`);
    await q.query(`CREATE INDEX "idx_models_tenant_name" ON "models" ("tenant_id", "name")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "models"`);
    await q.query(`DROP TABLE "jobs"`);
    await q.query(`DROP TABLE "api_keys"`);
    await q.query(`DROP TABLE "tenants"`);
  }
}
