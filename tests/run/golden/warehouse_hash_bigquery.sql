SELECT
  CAST(`q`.`id` AS STRING) AS bcsync_pk,
  TO_HEX(
    MD5(
      ARRAY_TO_STRING(
        [
          'email→email; it\'s \\ a\x1fmapping',
          COALESCE(CAST(`q`.`Mixed Case` AS STRING), '\\N'),
          COALESCE(CAST(`q`.`active` AS STRING), '\\N'),
          COALESCE(CAST(`q`.`at` AS STRING), '\\N'),
          COALESCE(UPPER(TO_HEX(`q`.`blob`)), '\\N'),
          COALESCE(CAST(`q`.`born` AS STRING), '\\N'),
          COALESCE(REPLACE(REPLACE(TO_JSON_STRING(`q`.`doc`), '\\', '\\\\'), CHR(  31), '\\u'), '\\N'),
          COALESCE(
            REPLACE(REPLACE(CAST(`q`.`name` AS STRING), '\\', '\\\\'), CHR(  31), '\\u'),
            '\\N'
          ),
          COALESCE(
            CASE
              WHEN CAST(`q`.`price` AS STRING) LIKE '%.%0'
              THEN RTRIM(RTRIM(CAST(`q`.`price` AS STRING), '0'), '.')
              ELSE CAST(`q`.`price` AS STRING)
            END,
            '\\N'
          ),
          COALESCE(
            CASE
              WHEN IS_NAN(`q`.`ratio`)
              THEN 'nan'
              WHEN IS_INF(`q`.`ratio`)
              THEN IF(`q`.`ratio` > 0, 'inf', '-inf')
              WHEN `q`.`ratio` = TRUNC(`q`.`ratio`) AND ABS(`q`.`ratio`) < 9e18
              THEN CAST(CAST(`q`.`ratio` AS INT64) AS STRING)
              WHEN `q`.`ratio` = TRUNC(`q`.`ratio`) AND ABS(`q`.`ratio`) < 1e38
              THEN CAST(CAST(`q`.`ratio` AS BIGNUMERIC) AS STRING)
              ELSE CAST(`q`.`ratio` AS STRING)
            END,
            '\\N'
          ),
          COALESCE(
            CASE
              WHEN IS_NAN(CAST(`q`.`score` AS FLOAT64))
              THEN 'nan'
              WHEN IS_INF(CAST(`q`.`score` AS FLOAT64))
              THEN IF(CAST(`q`.`score` AS FLOAT64) > 0, 'inf', '-inf')
              WHEN CAST(`q`.`score` AS FLOAT64) = TRUNC(CAST(`q`.`score` AS FLOAT64))
              AND ABS(CAST(`q`.`score` AS FLOAT64)) < 9e18
              THEN CAST(CAST(CAST(`q`.`score` AS FLOAT64) AS INT64) AS STRING)
              WHEN CAST(`q`.`score` AS FLOAT64) = TRUNC(CAST(`q`.`score` AS FLOAT64))
              AND ABS(CAST(`q`.`score` AS FLOAT64)) < 1e38
              THEN CAST(CAST(CAST(`q`.`score` AS FLOAT64) AS BIGNUMERIC) AS STRING)
              ELSE CAST(CAST(`q`.`score` AS FLOAT64) AS STRING)
            END,
            '\\N'
          ),
          COALESCE(FORMAT_DATETIME('%Y-%m-%dT%H:%M:%E6SZ', `q`.`seen`), '\\N'),
          COALESCE(FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', `q`.`seen_tz`, 'UTC'), '\\N'),
          COALESCE(
            REPLACE(REPLACE(TO_JSON_STRING(`q`.`tags`), '\\', '\\\\'), CHR(  31), '\\u'),
            '\\N'
          ),
          COALESCE(LOWER(CAST(`q`.`token` AS STRING)), '\\N'),
          COALESCE(
            CASE
              WHEN CAST(`q`.`total` AS STRING) LIKE '%.%0'
              THEN RTRIM(RTRIM(CAST(`q`.`total` AS STRING), '0'), '.')
              ELSE CAST(`q`.`total` AS STRING)
            END,
            '\\N'
          )
        ],
        CHR(  31)
      )
    )
  ) AS bcsync_hash
FROM (
  SELECT
    *
  FROM model
) AS q
