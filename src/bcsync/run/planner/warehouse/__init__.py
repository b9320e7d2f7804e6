"""The warehouse planner (``planner: warehouse``): the diff runs in the warehouse against a
cache of clean row hashes, and only the rows that may have changed cross to bcsync.

The local snapshot stays the ledger of ownership (DESIGN §3.8). The warehouse keeps, per sync,
``<planner_schema>.<sync>`` (pk TEXT PRIMARY KEY, row_hash TEXT NULL), under two invariants:

- W1: every key the ledger holds a record for (or has in flight) is a row of that table;
- W2: a non-NULL ``row_hash`` means the ledger entry is ``synced`` with nothing in flight and
  BigCommerce confirmed the model row whose warehouse-computed hash it is.

A NULL hash is *dirty*: the row is read out every run and the local classifier decides. So
correctness never rests on the warehouse's hash equalling the local md5 (``hash_sql`` makes it
equal wherever it can: switching planners then moves and re-sends nothing); an unequal one
costs a re-read. The table follows only warehouse-planned runs: any other write to the ledger
drops the snapshot's token, and the next warehouse-planned run rebuilds the table from the
ledger (bootstrap).

Modules, one concept each: ``hash_sql`` (key text and row hash as warehouse SQL), ``tables``
(the tables and every statement writing them), ``statements`` (that SQL, written per dialect),
``diff`` (the diff query, its counts and duplicate keys), ``writeback`` (dirty before sending,
the outcome after), ``planner`` (one diff, start to end), ``report`` (what planning read, for
``bcsync plan``), ``listing`` (every statement a run sends, as the golden files hold them),
``rights`` (what ``bcsync check`` tries in the planner's schema).
"""
