import { MigrationInterface, QueryRunner } from 'typeorm';

/** audit_events, idempotency_keys, and explicit scopes for keys that had the catch-all `*` (PostgreSQL). */
export class SecurityPostgres1765238400000 implements MigrationInterface {
  name = 'SecurityPostgres1765238400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "audit_events" ("id" uuid NOT NULL, "tenant_id" uuid, "actor_key_id" uuid, "action" character varying(64) NOT NULL, "target_type" character varying(32), "target_id" character varying(200), "ip" character varying(64), "request_id" character varying(128), "details" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "pk_audit_events" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "idx_audit_events_created" ON "audit_events" ("created_at")`);
    await q.query(`CREATE INDEX "idx_audit_events_tenant_created" ON "audit_events" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_audit_events_action_created" ON "audit_events" ("action", "created_at")`);
    await q.query(
      `CREATE TABLE "idempotency_keys" ("id" uuid NOT NULL, "tenant_id" uuid NOT NULL, "idempotency_key" character varying(255) NOT NULL, "route" character varying(200) NOT NULL, "request_hash" character varying(64) NOT NULL, "state" character varying(16) NOT NULL, "response_status" integer, "response_body" jsonb, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL, "locked_until" TIMESTAMP WITH TIME ZONE NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "chk_idempotency_keys_state" CHECK ("state" IN ('pending', 'completed')), CONSTRAINT "pk_idempotency_keys" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_idempotency_keys_tenant_key" ON "idempotency_keys" ("tenant_id", "idempotency_key")`);
    await q.query(`CREATE INDEX "idx_idempotency_keys_expires" ON "idempotency_keys" ("expires_at")`);
    await q.query(`UPDATE "api_keys" SET "scopes" = '["read", "write"]'::jsonb WHERE "scopes" = '["*"]'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE "api_keys" SET "scopes" = '["*"]'::jsonb WHERE "scopes" @> '["write"]'::jsonb`);
    await q.query(`DROP INDEX "public"."idx_idempotency_keys_expires"`);
    await q.query(`DROP INDEX "public"."uq_idempotency_keys_tenant_key"`);
    await q.query(`DROP TABLE "idempotency_keys"`);
    await q.query(`DROP INDEX "public"."idx_audit_events_action_created"`);
    await q.query(`DROP INDEX "public"."idx_audit_events_tenant_created"`);
    await q.query(`DROP INDEX "public"."idx_audit_events_created"`);
    await q.query(`DROP TABLE "audit_events"`);
  }
}
