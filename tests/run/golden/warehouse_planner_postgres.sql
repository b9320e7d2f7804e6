-- does the tokens table exist
SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'bcsync_planner' AND table_name = 'bcsync_tokens';

-- does the sync's table exist
SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'bcsync_planner' AND table_name = 'vip customers';

-- the warehouse's token of the sync
SELECT token FROM "bcsync_planner"."bcsync_tokens" WHERE sync = 'vip customers';

-- rows in the sync's table (fewer than the ledger's entries: rebuild)
SELECT COUNT(*) FROM "bcsync_planner"."vip customers";

-- does the planner's schema exist
SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'bcsync_planner';

-- create the planner's schema
CREATE SCHEMA "bcsync_planner";

-- does the tokens table exist
SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'bcsync_planner' AND table_name = 'bcsync_tokens';

-- create the tokens table
CREATE TABLE "bcsync_planner"."bcsync_tokens" (sync TEXT PRIMARY KEY, token TEXT NOT NULL);

-- its columns (pk, row_hash: else it is not the planner's, and is left alone)
SELECT column_name FROM information_schema.columns WHERE table_schema = 'bcsync_planner' AND table_name = 'vip customers';

-- forget the sync's old token
DELETE FROM "bcsync_planner"."bcsync_tokens" WHERE sync = 'vip customers';

-- drop the sync's table
DROP TABLE IF EXISTS "bcsync_planner"."vip customers";

-- create the sync's table
CREATE TABLE "bcsync_planner"."vip customers" (pk TEXT PRIMARY KEY, row_hash TEXT) WITH (fillfactor = 90);

-- stage the ledger's keys and hashes
CREATE TEMPORARY TABLE bcsync_staging_0123456789ab (pk TEXT, row_hash TEXT, keep BOOLEAN);

-- (the ledger's keys and hashes are uploaded into the staging table)

-- fill the table: the hashes the model still has as its rows' quick hashes
INSERT INTO "bcsync_planner"."vip customers" (pk, row_hash) SELECT s.pk, CASE WHEN s.row_hash = MD5(CONCAT_WS(CHR(31), 'email->email;ltv->attributes.LTV', COALESCE(REPLACE(REPLACE(CAST("q"."email" AS TEXT), '\', '\\'), CHR(31), '\u'), '\N'), COALESCE(CAST(TRIM_SCALE("q"."ltv") AS TEXT), '\N'))) THEN CAST(HASH_RECORD_EXTENDED(ROW(CAST(6986171084594429742 AS BIGINT), CAST("q"."email" AS TEXT) COLLATE "C", PG_COLUMN_SIZE("q"."email"), NUMERIC_SEND(CAST("q"."ltv" AS DECIMAL))), CAST(6986171084594429742 AS BIGINT)) AS TEXT) END FROM bcsync_staging_0123456789ab AS s LEFT JOIN (SELECT * FROM "analytics"."customers") AS q ON s.pk = CAST("q"."id" AS TEXT) ON CONFLICT(pk) DO NOTHING;

-- drop the staging table
DROP TABLE IF EXISTS bcsync_staging_0123456789ab;

-- settle the filled table (its rows marked committed, its statistics)
VACUUM (ANALYZE) "bcsync_planner"."vip customers";

-- the sync's new token
INSERT INTO "bcsync_planner"."bcsync_tokens" (sync, token) VALUES ('vip customers', 'bcsync-quick-2:0123456789abcdef0123456789abcdef');

-- the model's columns
SELECT * FROM "analytics"."customers" LIMIT 0;

-- rows scanned
SELECT COUNT(*) FROM (SELECT * FROM "analytics"."customers") AS bcsync_q;

-- rows in the sync's table
SELECT COUNT(*) FROM "bcsync_planner"."vip customers";

-- the diff
SELECT m.bcsync_pk, m.bcsync_hash, m.bcsync_present, "m"."id", "m"."email", "m"."ltv", s.pk AS bcsync_known FROM (SELECT CAST("q"."id" AS TEXT) AS bcsync_pk, CAST(HASH_RECORD_EXTENDED(ROW(CAST(6986171084594429742 AS BIGINT), CAST("q"."email" AS TEXT) COLLATE "C", PG_COLUMN_SIZE("q"."email"), NUMERIC_SEND(CAST("q"."ltv" AS DECIMAL))), CAST(6986171084594429742 AS BIGINT)) AS TEXT) AS bcsync_hash, TRUE AS bcsync_present, "q"."id", "q"."email", "q"."ltv" FROM (SELECT * FROM "analytics"."customers") AS q) AS m FULL OUTER JOIN "bcsync_planner"."vip customers" AS s ON s.pk = m.bcsync_pk WHERE m.bcsync_present IS NULL OR s.pk IS NULL OR s.row_hash IS NULL OR s.row_hash <> m.bcsync_hash;

-- the diff, with every row of a duplicated key
SELECT m.bcsync_pk, m.bcsync_hash, m.bcsync_present, "m"."id", "m"."email", "m"."ltv", s.pk AS bcsync_known FROM (SELECT CAST("q"."id" AS TEXT) AS bcsync_pk, CAST(HASH_RECORD_EXTENDED(ROW(CAST(6986171084594429742 AS BIGINT), CAST("q"."email" AS TEXT) COLLATE "C", PG_COLUMN_SIZE("q"."email"), NUMERIC_SEND(CAST("q"."ltv" AS DECIMAL))), CAST(6986171084594429742 AS BIGINT)) AS TEXT) AS bcsync_hash, TRUE AS bcsync_present, "q"."id", "q"."email", "q"."ltv" FROM (SELECT * FROM "analytics"."customers") AS q) AS m FULL OUTER JOIN "bcsync_planner"."vip customers" AS s ON s.pk = m.bcsync_pk WHERE (m.bcsync_present IS NULL OR s.pk IS NULL OR s.row_hash IS NULL OR s.row_hash <> m.bcsync_hash) OR m.bcsync_pk IN (SELECT CAST("q"."id" AS TEXT) AS pk FROM (SELECT * FROM "analytics"."customers") AS q GROUP BY CAST("q"."id" AS TEXT) HAVING COUNT(*) > 1);

-- stage a batch of keys
CREATE TEMPORARY TABLE bcsync_staging_0123456789ab (pk TEXT, row_hash TEXT, keep BOOLEAN);

-- (the batch's rows are uploaded into the staging table)

-- in one transaction: the staged keys the table has made dirty
UPDATE "bcsync_planner"."vip customers" SET row_hash = NULL WHERE pk IN (SELECT pk FROM bcsync_staging_0123456789ab);

-- in one transaction: the staged keys it lacks inserted, dirty
INSERT INTO "bcsync_planner"."vip customers" (pk, row_hash) SELECT pk, row_hash FROM bcsync_staging_0123456789ab WHERE keep;

-- drop the staging table
DROP TABLE IF EXISTS bcsync_staging_0123456789ab;

-- in one transaction: forget the sync's token
DELETE FROM "bcsync_planner"."bcsync_tokens" WHERE sync = 'vip customers';

-- in one transaction: the sync's new token
INSERT INTO "bcsync_planner"."bcsync_tokens" (sync, token) VALUES ('vip customers', 'bcsync-quick-2:0123456789abcdef0123456789abcdef');

-- stage a batch of keys
CREATE TEMPORARY TABLE bcsync_staging_0123456789ab (pk TEXT, row_hash TEXT, keep BOOLEAN);

-- (the batch's rows are uploaded into the staging table)

-- in one transaction: remove the staged keys
DELETE FROM "bcsync_planner"."vip customers" WHERE pk IN (SELECT pk FROM bcsync_staging_0123456789ab);

-- in one transaction: insert those that stay
INSERT INTO "bcsync_planner"."vip customers" (pk, row_hash) SELECT pk, row_hash FROM bcsync_staging_0123456789ab WHERE keep;

-- drop the staging table
DROP TABLE IF EXISTS bcsync_staging_0123456789ab;

-- does the sync's table exist
SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'bcsync_planner' AND table_name = 'vip customers';

-- its columns (pk, row_hash: else it is left alone)
SELECT column_name FROM information_schema.columns WHERE table_schema = 'bcsync_planner' AND table_name = 'vip customers';

-- does the tokens table exist
SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'bcsync_planner' AND table_name = 'bcsync_tokens';

-- forget the sync's token
DELETE FROM "bcsync_planner"."bcsync_tokens" WHERE sync = 'vip customers';

-- drop the sync's table
DROP TABLE IF EXISTS "bcsync_planner"."vip customers";
