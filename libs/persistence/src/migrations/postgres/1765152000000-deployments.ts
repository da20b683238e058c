import { MigrationInterface, QueryRunner } from 'typeorm';

/** deployments (PostgreSQL). */
export class DeploymentsPostgres1765152000000 implements MigrationInterface {
  name = 'DeploymentsPostgres1765152000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "deployments" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "name" character varying(63) NOT NULL, "model_id" uuid NOT NULL, "experiment_id" uuid, "job_id" uuid NOT NULL, "backend" character varying(16) NOT NULL, "status" character varying(16) NOT NULL, "replicas" integer NOT NULL, "config" jsonb NOT NULL, "environment" jsonb NOT NULL, "model_key" character varying(512), "input_shape" jsonb, "output_shape" jsonb, "output_kind" character varying(16), "error" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "deployed_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "chk_deployments_status" CHECK ("status" IN ('deploying', 'deployed', 'paused', 'failed')), CONSTRAINT "chk_deployments_backend" CHECK ("backend" IN ('tensorflow', 'pytorch', 'onnx')), CONSTRAINT "chk_deployments_replicas" CHECK ("replicas" >= 0), CONSTRAINT "pk_deployments" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_deployments_tenant_name" ON "deployments" ("tenant_id", "name")`);
    await q.query(`CREATE INDEX "idx_deployments_tenant_created" ON "deployments" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_deployments_status" ON "deployments" ("status")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "public"."idx_deployments_status"`);
    await q.query(`DROP INDEX "public"."idx_deployments_tenant_created"`);
    await q.query(`DROP INDEX "public"."uq_deployments_tenant_name"`);
    await q.query(`DROP TABLE "deployments"`);
  }
}
