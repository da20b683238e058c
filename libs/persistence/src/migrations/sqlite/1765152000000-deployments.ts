import { MigrationInterface, QueryRunner } from 'typeorm';

/** deployments (SQLite). */
export class DeploymentsSqlite1765152000000 implements MigrationInterface {
  name = 'DeploymentsSqlite1765152000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "deployments" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "name" varchar(63) NOT NULL, "model_id" varchar(36) NOT NULL, "experiment_id" varchar(36), "job_id" varchar(36) NOT NULL, "backend" varchar(16) NOT NULL, "status" varchar(16) NOT NULL, "replicas" integer NOT NULL, "config" text NOT NULL, "environment" text NOT NULL, "model_key" varchar(512), "input_shape" text, "output_shape" text, "output_kind" varchar(16), "error" text, "created_at" datetime NOT NULL, "updated_at" datetime NOT NULL, "deployed_at" datetime, CONSTRAINT "chk_deployments_status" CHECK ("status" IN ('deploying', 'deployed', 'paused', 'failed')), CONSTRAINT "chk_deployments_backend" CHECK ("backend" IN ('tensorflow', 'pytorch', 'onnx')), CONSTRAINT "chk_deployments_replicas" CHECK ("replicas" >= 0))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_deployments_tenant_name" ON "deployments" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_deployments_tenant_created" ON "deployments" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_deployments_status" ON "deployments" ("status")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "idx_deployments_status"`);
    await q.query(`DROP INDEX "idx_deployments_tenant_created"`);
    await q.query(`DROP INDEX "uq_deployments_tenant_name"`);
    await q.query(`DROP TABLE "deployments"`);
  }
}
