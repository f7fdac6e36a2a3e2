import { type Kysely, sql } from "kysely";

/**
 * The reconciler looks for charges left PENDING, oldest first, every few seconds. Without an
 * index that is a scan of every payment ever taken; PENDING rows are a handful at any time, so a
 * partial index keeps the lookup as small as they are.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX payments_pending_idx ON payments (updated_at) WHERE status = 'PENDING'`.execute(
    db,
  );
}
