import { MigrationInterface, QueryRunner } from 'typeorm';

/** tenants, api_keys, jobs, models (PostgreSQL). */
export class InitialSchemaPostgres1764288000000 implements MigrationInterface {
  name = 'InitialSchemaPostgres1764288000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "tenants" ("id" uuid NOT NULL, "name" character varying(200) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_tenants" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE TABLE "api_keys" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "name" character varying(200) NOT NULL, "prefix" character varying(16) NOT NULL, "key_hash" character varying(64) NOT NULL, "scopes" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "last_used_at" TIMESTAMP WITH TIME ZONE, "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "pk_api_keys" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_api_keys_key_hash" ON "api_keys" ("key_hash")`);
    await q.query(`CREATE INDEX "idx_api_keys_tenant_id" ON "api_keys" ("tenant_id")`);
    await q.query(
      `ALTER TABLE "api_keys" ADD CONSTRAINT "fk_api_keys_tenant_id" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
    await q.query(
      `CREATE TABLE "jobs" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "type" character varying(16) NOT NULL, "status" character varying(16) NOT NULL, "progress" integer NOT NULL DEFAULT '0', "current_epoch" integer, "total_epochs" integer, "input" jsonb NOT NULL, "result" jsonb, "error" jsonb, "metrics" jsonb, "experiment_id" uuid, "model_id" uuid, "webhook_url" character varying(2048), "attempts" integer NOT NULL DEFAULT '0', "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE, "completed_at" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "chk_jobs_type" CHECK ("type" IN ('compile', 'train', 'deploy')), CONSTRAINT "chk_jobs_status" CHECK ("status" IN ('pending', 'running', 'completed', 'failed', 'cancelled')), CONSTRAINT "chk_jobs_progress" CHECK ("progress" BETWEEN 0 AND 100), CONSTRAINT "pk_jobs" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "idx_jobs_tenant_created" ON "jobs" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_status" ON "jobs" ("tenant_id", "status")`);
    await q.query(`CREATE INDEX "idx_jobs_tenant_type" ON "jobs" ("tenant_id", "type")`);
    await q.query(`CREATE INDEX "idx_jobs_status_updated" ON "jobs" ("status", "updated_at")`);
    await q.query(
      `CREATE TABLE "models" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "name" character varying(200) NOT NULL, "backend" character varying(16) NOT NULL, "dsl" text NOT NULL, "summary" jsonb NOT NULL, "warnings" jsonb NOT NULL, "artifact_key" character varying(512) NOT NULL, "size_bytes" integer NOT NULL, "content_type" character varying(100) NOT NULL, "filename" character varying(255) NOT NULL, "job_id" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "chk_models_backend" CHECK ("backend" IN ('tensorflow', 'pytorch', 'onnx')), CONSTRAINT "pk_models" PRIMARY KEY ("id"))`,
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
