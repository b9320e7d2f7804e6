"""The warehouse planner (``planner: warehouse``): the diff runs in the warehouse against a
cache of clean row hashes, and only the rows that may have changed cross to bcsync.

The local snapshot stays the ledger of ownership (DESIGN §3.8). The warehouse keeps, per sync,
``<planner_schema>.<sync>`` (pk TEXT PRIMARY KEY, row_hash TEXT NULL), under two invariants:

- W1: every key the ledger holds a record for (or has in flight) is a row of that table;
- W2: a non-NULL ``row_hash`` means the ledger entry is ``synced`` with nothing in flight and
  BigCommerce confirmed the model row whose warehouse-computed quick hash it is (or, left by a
  rebuild, the ledger's md5 of a row the model no longer has: never equal to a quick hash).

A NULL hash is *dirty*: the row is read out every run and the local classifier decides. So
correctness never rests on the warehouse's hashes equalling the local md5. ``hash_sql`` makes
its md5 equal wherever it can, and a rebuild from the ledger turns each md5 the model still has
into its row's quick hash in the warehouse, so switching planners moves and re-sends nothing;
an unequal one costs a re-read. The table follows only warehouse-planned runs: any other write
to the ledger drops the snapshot's token, and the next warehouse-planned run rebuilds the table
from the ledger (bootstrap).

Modules, one concept each: ``hash_sql`` (key text and row hash as warehouse SQL), ``tables``
(the tables and every statement writing them), ``statements`` (that SQL, written per dialect),
``diff`` (the diff query, its counts and duplicate keys), ``writeback`` (dirty before sending,
the outcome after), ``planner`` (one diff, start to end), ``report`` (what planning read, for
``bcsync plan``), ``listing`` (every statement a run sends, as the golden files hold them),
``rights`` (what ``bcsync check`` tries in the planner's schema).
"""
