import { MigrationInterface, QueryRunner } from 'typeorm';

/** audit_events, idempotency_keys, and explicit scopes for keys that had the catch-all `*` (SQLite). */
export class SecuritySqlite1765238400000 implements MigrationInterface {
  name = 'SecuritySqlite1765238400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "audit_events" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36), "actor_key_id" varchar(36), "action" varchar(64) NOT NULL, "target_type" varchar(32), "target_id" varchar(200), "ip" varchar(64), "request_id" varchar(128), "details" text NOT NULL, "created_at" datetime NOT NULL)`,
    );
    await q.query(`CREATE INDEX "idx_audit_events_created" ON "audit_events" ("created_at")`);
    await q.query(`CREATE INDEX "idx_audit_events_tenant_created" ON "audit_events" ("tenant_id", "created_at")`);
    await q.query(`CREATE INDEX "idx_audit_events_action_created" ON "audit_events" ("action", "created_at")`);
    await q.query(
      `CREATE TABLE "idempotency_keys" ("id" varchar(36) PRIMARY KEY NOT NULL, "tenant_id" varchar(36) NOT NULL, "idempotency_key" varchar(255) NOT NULL, "route" varchar(200) NOT NULL, "request_hash" varchar(64) NOT NULL, "state" varchar(16) NOT NULL, "response_status" integer, "response_body" text, "created_at" datetime NOT NULL, "locked_until" datetime NOT NULL, "expires_at" datetime NOT NULL, CONSTRAINT "chk_idempotency_keys_state" CHECK ("state" IN ('pending', 'completed')))`,
    );
    await q.query(`CREATE UNIQUE INDEX "uq_idempotency_keys_tenant_key" ON "idempotency_keys" ("tenant_id", "idempotency_key")`);
    await q.query(`CREATE INDEX "idx_idempotency_keys_expires" ON "idempotency_keys" ("expires_at")`);
    await q.query(`UPDATE "api_keys" SET "scopes" = '["read","write"]' WHERE "scopes" = '["*"]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE "api_keys" SET "scopes" = '["*"]' WHERE "scopes" = '["read","write"]'`);
    await q.query(`DROP INDEX "idx_idempotency_keys_expires"`);
    await q.query(`DROP INDEX "uq_idempotency_keys_tenant_key"`);
    await q.query(`DROP TABLE "idempotency_keys"`);
    await q.query(`DROP INDEX "idx_audit_events_action_created"`);
    await q.query(`DROP INDEX "idx_audit_events_tenant_created"`);
    await q.query(`DROP INDEX "idx_audit_events_created"`);
    await q.query(`DROP TABLE "audit_events"`);
  }
}
