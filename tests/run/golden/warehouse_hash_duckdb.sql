SELECT
  CAST("q"."id" AS TEXT) AS bcsync_pk,
  MD5(
    CONCAT_WS(
      CHR(31),
      'email→email; it''s \ amapping',
      COALESCE(CAST("q"."Mixed Case" AS TEXT), '\N'),
      COALESCE(CASE WHEN "q"."active" THEN 'true' WHEN NOT "q"."active" THEN 'false' END, '\N'),
      COALESCE(CAST("q"."at" AS TEXT), '\N'),
      COALESCE(HEX("q"."blob"), '\N'),
      COALESCE(STRFTIME("q"."born", '%Y-%m-%d'), '\N'),
      COALESCE(
        CASE
          WHEN CONTAINS(CAST("q"."doc" AS TEXT), '\')
          OR CONTAINS(CAST("q"."doc" AS TEXT), CHR(31))
          THEN REPLACE(REPLACE(CAST("q"."doc" AS TEXT), '\', '\\'), CHR(31), '\u')
          ELSE CAST("q"."doc" AS TEXT)
        END,
        '\N'
      ),
      COALESCE(
        CASE
          WHEN CONTAINS(CAST("q"."name" AS TEXT), '\')
          OR CONTAINS(CAST("q"."name" AS TEXT), CHR(31))
          THEN REPLACE(REPLACE(CAST("q"."name" AS TEXT), '\', '\\'), CHR(31), '\u')
          ELSE CAST("q"."name" AS TEXT)
        END,
        '\N'
      ),
      COALESCE(
        CASE
          WHEN SUFFIX(CAST("q"."price" AS TEXT), '0')
          THEN RTRIM(RTRIM(CAST("q"."price" AS TEXT), '0'), '.')
          ELSE CAST("q"."price" AS TEXT)
        END,
        '\N'
      ),
      COALESCE(
        CASE
          WHEN ISNAN("q"."ratio")
          THEN 'nan'
          WHEN NOT ISFINITE("q"."ratio")
          THEN LOWER(CAST("q"."ratio" AS TEXT))
          WHEN "q"."ratio" = TRUNC("q"."ratio") AND ABS("q"."ratio") < 9e18
          THEN CAST(CAST("q"."ratio" AS BIGINT) AS TEXT)
          WHEN "q"."ratio" = TRUNC("q"."ratio") AND ABS("q"."ratio") < 1e38
          THEN CAST(CAST("q"."ratio" AS INT128) AS TEXT)
          ELSE CAST("q"."ratio" AS TEXT)
        END,
        '\N'
      ),
      COALESCE(
        CASE
          WHEN ISNAN(CAST("q"."score" AS DOUBLE))
          THEN 'nan'
          WHEN NOT ISFINITE(CAST("q"."score" AS DOUBLE))
          THEN LOWER(CAST(CAST("q"."score" AS DOUBLE) AS TEXT))
          WHEN CAST("q"."score" AS DOUBLE) = TRUNC(CAST("q"."score" AS DOUBLE))
          AND ABS(CAST("q"."score" AS DOUBLE)) < 9e18
          THEN CAST(CAST(CAST("q"."score" AS DOUBLE) AS BIGINT) AS TEXT)
          WHEN CAST("q"."score" AS DOUBLE) = TRUNC(CAST("q"."score" AS DOUBLE))
          AND ABS(CAST("q"."score" AS DOUBLE)) < 1e38
          THEN CAST(CAST(CAST("q"."score" AS DOUBLE) AS INT128) AS TEXT)
          ELSE CAST(CAST("q"."score" AS DOUBLE) AS TEXT)
        END,
        '\N'
      ),
      COALESCE(STRFTIME(CAST("q"."seen" AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ'), '\N'),
      COALESCE(STRFTIME(TIMEZONE('UTC', "q"."seen_tz"), '%Y-%m-%dT%H:%M:%S.%fZ'), '\N'),
      COALESCE(
        REPLACE(
          REPLACE(
            '[' || ARRAY_TO_STRING(
              [
                COALESCE(CAST(STRLEN(CAST(e0 AS TEXT)) AS TEXT) || ':' || CAST(e0 AS TEXT), '~') FOR e0 IN "q"."tags"
              ],
              ','
            ) || ']',
            '\',
            '\\'
          ),
          CHR(31),
          '\u'
        ),
        '\N'
      ),
      COALESCE(LOWER(CAST("q"."token" AS TEXT)), '\N'),
      COALESCE(
        CASE
          WHEN CAST("q"."total" AS TEXT) LIKE '%.%0'
          THEN RTRIM(RTRIM(CAST("q"."total" AS TEXT), '0'), '.')
          ELSE CAST("q"."total" AS TEXT)
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
