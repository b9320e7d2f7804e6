SELECT
  CAST("q"."id" AS VARCHAR) AS bcsync_pk,
  MD5(
    CONCAT_WS(
      CHR(  31),
      'email→email; it\'s \\ a\x1fmapping',
      COALESCE(CAST("q"."Mixed Case" AS VARCHAR), '\\N'),
      COALESCE(CAST("q"."active" AS VARCHAR), '\\N'),
      COALESCE(CAST("q"."at" AS VARCHAR), '\\N'),
      COALESCE(HEX_ENCODE("q"."blob"), '\\N'),
      COALESCE(TO_CHAR("q"."born", 'YYYY-MM-DD'), '\\N'),
      COALESCE(
        REPLACE(REPLACE(CAST("q"."doc" AS VARCHAR), '\\', '\\\\'), CHR(  31), '\\u'),
        '\\N'
      ),
      COALESCE(
        REPLACE(REPLACE(CAST("q"."name" AS VARCHAR), '\\', '\\\\'), CHR(  31), '\\u'),
        '\\N'
      ),
      COALESCE(
        CASE
          WHEN CAST("q"."price" AS VARCHAR) LIKE '%.%0'
          THEN RTRIM(RTRIM(CAST("q"."price" AS VARCHAR), '0'), '.')
          ELSE CAST("q"."price" AS VARCHAR)
        END,
        '\\N'
      ),
      COALESCE(
        CASE
          WHEN "q"."ratio" = CAST('NaN' AS DOUBLE)
          THEN 'nan'
          WHEN "q"."ratio" = CAST('inf' AS DOUBLE)
          THEN 'inf'
          WHEN "q"."ratio" = CAST('-inf' AS DOUBLE)
          THEN '-inf'
          WHEN "q"."ratio" = TRUNC("q"."ratio") AND ABS("q"."ratio") < 1e38
          THEN CAST(CAST("q"."ratio" AS DECIMAL(38, 0)) AS VARCHAR)
          ELSE CAST("q"."ratio" AS VARCHAR)
        END,
        '\\N'
      ),
      COALESCE(
        CASE
          WHEN CAST("q"."score" AS DOUBLE) = CAST('NaN' AS DOUBLE)
          THEN 'nan'
          WHEN CAST("q"."score" AS DOUBLE) = CAST('inf' AS DOUBLE)
          THEN 'inf'
          WHEN CAST("q"."score" AS DOUBLE) = CAST('-inf' AS DOUBLE)
          THEN '-inf'
          WHEN CAST("q"."score" AS DOUBLE) = TRUNC(CAST("q"."score" AS DOUBLE))
          AND ABS(CAST("q"."score" AS DOUBLE)) < 1e38
          THEN CAST(CAST(CAST("q"."score" AS DOUBLE) AS DECIMAL(38, 0)) AS VARCHAR)
          ELSE CAST(CAST("q"."score" AS DOUBLE) AS VARCHAR)
        END,
        '\\N'
      ),
      COALESCE(TO_CHAR("q"."seen", 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"'), '\\N'),
      COALESCE(
        TO_CHAR(CONVERT_TIMEZONE('UTC', "q"."seen_tz"), 'YYYY-MM-DD"T"HH24:MI:SS.FF6"Z"'),
        '\\N'
      ),
      COALESCE(
        REPLACE(REPLACE(CAST("q"."tags" AS VARCHAR), '\\', '\\\\'), CHR(  31), '\\u'),
        '\\N'
      ),
      COALESCE(LOWER(CAST("q"."token" AS VARCHAR)), '\\N'),
      COALESCE(
        CASE
          WHEN CAST("q"."total" AS VARCHAR) LIKE '%.%0'
          THEN RTRIM(RTRIM(CAST("q"."total" AS VARCHAR), '0'), '.')
          ELSE CAST("q"."total" AS VARCHAR)
        END,
        '\\N'
      )
    )
  ) AS bcsync_hash
FROM (
  SELECT
    *
  FROM model
) AS q
