-- does the planner's schema exist
SELECT COUNT(*) FROM `INFORMATION_SCHEMA.SCHEMATA` WHERE schema_name = 'bcsync_planner';

-- does the tokens table exist
SELECT COUNT(*) FROM `bcsync_planner`.`INFORMATION_SCHEMA.TABLES` WHERE table_name = 'bcsync_tokens';

-- does the planner's schema exist
SELECT COUNT(*) FROM `INFORMATION_SCHEMA.SCHEMATA` WHERE schema_name = 'bcsync_planner';

-- does the sync's table exist
SELECT COUNT(*) FROM `bcsync_planner`.`INFORMATION_SCHEMA.TABLES` WHERE table_name = 'vip customers';

-- the warehouse's token of the sync
SELECT token FROM `bcsync_planner`.`bcsync_tokens` WHERE sync = 'vip customers';

-- rows in the sync's table (fewer than the ledger's entries: rebuild)
SELECT COUNT(*) FROM `bcsync_planner`.`vip customers`;

-- does the planner's schema exist
SELECT COUNT(*) FROM `INFORMATION_SCHEMA.SCHEMATA` WHERE schema_name = 'bcsync_planner';

-- create the planner's schema
CREATE SCHEMA `bcsync_planner`;

-- does the planner's schema exist
SELECT COUNT(*) FROM `INFORMATION_SCHEMA.SCHEMATA` WHERE schema_name = 'bcsync_planner';

-- does the tokens table exist
SELECT COUNT(*) FROM `bcsync_planner`.`INFORMATION_SCHEMA.TABLES` WHERE table_name = 'bcsync_tokens';

-- create the tokens table
CREATE TABLE `bcsync_planner`.`bcsync_tokens` (sync STRING, token STRING NOT NULL, PRIMARY KEY (sync) NOT ENFORCED);

-- its columns (pk, row_hash: else it is not the planner's, and is left alone)
SELECT column_name FROM `bcsync_planner`.`INFORMATION_SCHEMA.COLUMNS` WHERE table_name = 'vip customers';

-- forget the sync's old token
DELETE FROM `bcsync_planner`.`bcsync_tokens` WHERE sync = 'vip customers';

-- drop the sync's table
DROP TABLE IF EXISTS `bcsync_planner`.`vip customers`;

-- create the sync's table
CREATE TABLE `bcsync_planner`.`vip customers` (pk STRING, row_hash STRING, PRIMARY KEY (pk) NOT ENFORCED);

-- (the ledger's keys and hashes are uploaded into it)

-- the sync's new token
INSERT INTO `bcsync_planner`.`bcsync_tokens` (sync, token) VALUES ('vip customers', 'bcsync-quick-2:0123456789abcdef0123456789abcdef');

-- the model's columns
SELECT * FROM `analytics`.`customers` LIMIT 0;

-- rows scanned
SELECT COUNT(*) FROM (SELECT * FROM `analytics`.`customers`) AS bcsync_q;

-- rows in the sync's table
SELECT COUNT(*) FROM `bcsync_planner`.`vip customers`;

-- the diff
SELECT m.bcsync_pk, m.bcsync_hash, m.bcsync_present, `m`.`id`, `m`.`email`, `m`.`ltv`, s.pk AS bcsync_known FROM (SELECT CAST(`q`.`id` AS STRING) AS bcsync_pk, TO_HEX(MD5(ARRAY_TO_STRING(['email->email;ltv->attributes.LTV', COALESCE(REPLACE(REPLACE(CAST(`q`.`email` AS STRING), '\\', '\\\\'), CHR(31), '\\u'), '\\N'), COALESCE(CASE WHEN CAST(`q`.`ltv` AS STRING) LIKE '%.%0' THEN RTRIM(RTRIM(CAST(`q`.`ltv` AS STRING), '0'), '.') ELSE CAST(`q`.`ltv` AS STRING) END, '\\N')], CHR(31)))) AS bcsync_hash, TRUE AS bcsync_present, `q`.`id`, `q`.`email`, `q`.`ltv` FROM (SELECT * FROM `analytics`.`customers`) AS q) AS m FULL OUTER JOIN `bcsync_planner`.`vip customers` AS s ON s.pk = m.bcsync_pk WHERE m.bcsync_present IS NULL OR s.pk IS NULL OR s.row_hash IS NULL OR s.row_hash <> m.bcsync_hash;

-- the diff, with every row of a duplicated key
SELECT m.bcsync_pk, m.bcsync_hash, m.bcsync_present, `m`.`id`, `m`.`email`, `m`.`ltv`, s.pk AS bcsync_known FROM (SELECT CAST(`q`.`id` AS STRING) AS bcsync_pk, TO_HEX(MD5(ARRAY_TO_STRING(['email->email;ltv->attributes.LTV', COALESCE(REPLACE(REPLACE(CAST(`q`.`email` AS STRING), '\\', '\\\\'), CHR(31), '\\u'), '\\N'), COALESCE(CASE WHEN CAST(`q`.`ltv` AS STRING) LIKE '%.%0' THEN RTRIM(RTRIM(CAST(`q`.`ltv` AS STRING), '0'), '.') ELSE CAST(`q`.`ltv` AS STRING) END, '\\N')], CHR(31)))) AS bcsync_hash, TRUE AS bcsync_present, `q`.`id`, `q`.`email`, `q`.`ltv` FROM (SELECT * FROM `analytics`.`customers`) AS q) AS m FULL OUTER JOIN `bcsync_planner`.`vip customers` AS s ON s.pk = m.bcsync_pk WHERE (m.bcsync_present IS NULL OR s.pk IS NULL OR s.row_hash IS NULL OR s.row_hash <> m.bcsync_hash) OR m.bcsync_pk IN (SELECT CAST(`q`.`id` AS STRING) AS pk FROM (SELECT * FROM `analytics`.`customers`) AS q GROUP BY CAST(`q`.`id` AS STRING) HAVING COUNT(*) > 1);

-- stage a batch of keys
CREATE TABLE `bcsync_planner`.`bcsync_staging_0123456789ab` (pk STRING, row_hash STRING, keep BOOL);

-- (the batch's rows are uploaded into the staging table)

-- in one transaction: the staged keys the table has made dirty
UPDATE `bcsync_planner`.`vip customers` SET row_hash = NULL WHERE pk IN (SELECT pk FROM `bcsync_planner`.`bcsync_staging_0123456789ab`);

-- in one transaction: the staged keys it lacks inserted, dirty
INSERT INTO `bcsync_planner`.`vip customers` (pk, row_hash) SELECT pk, row_hash FROM `bcsync_planner`.`bcsync_staging_0123456789ab` WHERE keep;

-- drop the staging table
DROP TABLE IF EXISTS `bcsync_planner`.`bcsync_staging_0123456789ab`;

-- in one transaction: forget the sync's token
DELETE FROM `bcsync_planner`.`bcsync_tokens` WHERE sync = 'vip customers';

-- in one transaction: the sync's new token
INSERT INTO `bcsync_planner`.`bcsync_tokens` (sync, token) VALUES ('vip customers', 'bcsync-quick-2:0123456789abcdef0123456789abcdef');

-- stage a batch of keys
CREATE TABLE `bcsync_planner`.`bcsync_staging_0123456789ab` (pk STRING, row_hash STRING, keep BOOL);

-- (the batch's rows are uploaded into the staging table)

-- in one transaction: remove the staged keys
DELETE FROM `bcsync_planner`.`vip customers` WHERE pk IN (SELECT pk FROM `bcsync_planner`.`bcsync_staging_0123456789ab`);

-- in one transaction: insert those that stay
INSERT INTO `bcsync_planner`.`vip customers` (pk, row_hash) SELECT pk, row_hash FROM `bcsync_planner`.`bcsync_staging_0123456789ab` WHERE keep;

-- drop the staging table
DROP TABLE IF EXISTS `bcsync_planner`.`bcsync_staging_0123456789ab`;

-- does the planner's schema exist
SELECT COUNT(*) FROM `INFORMATION_SCHEMA.SCHEMATA` WHERE schema_name = 'bcsync_planner';

-- does the sync's table exist
SELECT COUNT(*) FROM `bcsync_planner`.`INFORMATION_SCHEMA.TABLES` WHERE table_name = 'vip customers';

-- its columns (pk, row_hash: else it is left alone)
SELECT column_name FROM `bcsync_planner`.`INFORMATION_SCHEMA.COLUMNS` WHERE table_name = 'vip customers';

-- does the planner's schema exist
SELECT COUNT(*) FROM `INFORMATION_SCHEMA.SCHEMATA` WHERE schema_name = 'bcsync_planner';

-- does the tokens table exist
SELECT COUNT(*) FROM `bcsync_planner`.`INFORMATION_SCHEMA.TABLES` WHERE table_name = 'bcsync_tokens';

-- forget the sync's token
DELETE FROM `bcsync_planner`.`bcsync_tokens` WHERE sync = 'vip customers';

-- drop the sync's table
DROP TABLE IF EXISTS `bcsync_planner`.`vip customers`;
