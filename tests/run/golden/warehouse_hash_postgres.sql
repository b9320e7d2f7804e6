SELECT
  CAST("q"."id" AS TEXT) AS bcsync_pk,
  MD5(
    CONCAT_WS(
      CHR(  31),
      'email→email; it''s \ amapping',
      COALESCE(CAST("q"."Mixed Case" AS TEXT), '\N'),
      COALESCE(CAST("q"."active" AS TEXT), '\N'),
      COALESCE(CAST("q"."at" AS TEXT), '\N'),
      COALESCE(UPPER(ENCODE("q"."blob", 'hex')), '\N'),
      COALESCE(CAST("q"."born" AS TEXT), '\N'),
      COALESCE(REPLACE(REPLACE(CAST("q"."doc" AS TEXT), '\', '\\'), CHR(  31), '\u'), '\N'),
      COALESCE(REPLACE(REPLACE(CAST("q"."name" AS TEXT), '\', '\\'), CHR(  31), '\u'), '\N'),
      COALESCE(CAST(TRIM_SCALE("q"."price") AS TEXT), '\N'),
      COALESCE(
        CASE
          WHEN "q"."ratio" <> TRUNC("q"."ratio")
          THEN CAST("q"."ratio" AS TEXT)
          WHEN ABS("q"."ratio") < 9e18
          THEN CAST(CAST("q"."ratio" AS BIGINT) AS TEXT)
          WHEN ABS("q"."ratio") < 1e38
          THEN CAST(TRIM_SCALE(
            CAST(CAST("q"."ratio" / POWER(CAST(2 AS DOUBLE PRECISION), FLOOR(LN(ABS("q"."ratio")) / LN(2)) - 61) AS BIGINT) AS DECIMAL) * POWER(CAST(2 AS DECIMAL), CAST(FLOOR(LN(ABS("q"."ratio")) / LN(2)) - 61 AS DECIMAL))
          ) AS TEXT)
          WHEN "q"."ratio" = 'NaN'
          THEN 'nan'
          WHEN "q"."ratio" = 'Infinity'
          THEN 'inf'
          WHEN "q"."ratio" = '-Infinity'
          THEN '-inf'
          ELSE CAST("q"."ratio" AS TEXT)
        END,
        '\N'
      ),
      COALESCE(
        CASE
          WHEN CAST("q"."score" AS DOUBLE PRECISION) <> TRUNC(CAST("q"."score" AS DOUBLE PRECISION))
          THEN CAST(CAST("q"."score" AS DOUBLE PRECISION) AS TEXT)
          WHEN ABS(CAST("q"."score" AS DOUBLE PRECISION)) < 9e18
          THEN CAST(CAST(CAST("q"."score" AS DOUBLE PRECISION) AS BIGINT) AS TEXT)
          WHEN ABS(CAST("q"."score" AS DOUBLE PRECISION)) < 1e38
          THEN CAST(TRIM_SCALE(
            CAST(CAST(CAST("q"."score" AS DOUBLE PRECISION) / POWER(
              CAST(2 AS DOUBLE PRECISION),
              FLOOR(LN(ABS(CAST("q"."score" AS DOUBLE PRECISION))) / LN(2)) - 61
            ) AS BIGINT) AS DECIMAL) * POWER(
              CAST(2 AS DECIMAL),
              CAST(FLOOR(LN(ABS(CAST("q"."score" AS DOUBLE PRECISION))) / LN(2)) - 61 AS DECIMAL)
            )
          ) AS TEXT)
          WHEN CAST("q"."score" AS DOUBLE PRECISION) = 'NaN'
          THEN 'nan'
          WHEN CAST("q"."score" AS DOUBLE PRECISION) = 'Infinity'
          THEN 'inf'
          WHEN CAST("q"."score" AS DOUBLE PRECISION) = '-Infinity'
          THEN '-inf'
          ELSE CAST(CAST("q"."score" AS DOUBLE PRECISION) AS TEXT)
        END,
        '\N'
      ),
      COALESCE(TO_CHAR("q"."seen", 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '\N'),
      COALESCE(TO_CHAR("q"."seen_tz" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '\N'),
      COALESCE(REPLACE(REPLACE(CAST("q"."tags" AS TEXT), '\', '\\'), CHR(  31), '\u'), '\N'),
      COALESCE(LOWER(CAST("q"."token" AS TEXT)), '\N'),
      COALESCE(
        CASE
          WHEN CAST("q"."total" AS DECIMAL) - CAST("q"."total" AS DECIMAL) = 0
          THEN CAST(TRIM_SCALE(CAST("q"."total" AS DECIMAL)) AS TEXT)
          WHEN CAST("q"."total" AS DECIMAL) = 'NaN'
          THEN 'nan'
          WHEN CAST("q"."total" AS DECIMAL) > 0
          THEN 'inf'
          WHEN CAST("q"."total" AS DECIMAL) < 0
          THEN '-inf'
        END,
        '\N'
      )
    )
  ) AS bcsync_hash
FROM (
  SELECT
    *
  FROM model
) AS q
