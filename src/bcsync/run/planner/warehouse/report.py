"""What a plan cost the warehouse, for ``bcsync plan``: which planner ran, the model rows it
scanned and what crossed from the warehouse to bcsync (rows and Arrow bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import pyarrow as pa

Planner = Literal["local", "warehouse"]


@dataclass
class PlannerReport:
    """``scanned``: model rows the diff read (in the warehouse, for the warehouse planner);
    ``rows_read`` and ``bytes_read``: rows and Arrow bytes streamed out of the warehouse (a
    DuckDB model the local planner runs itself streams nothing: 0 bytes)."""

    planner: Planner
    scanned: int = 0
    rows_read: int = 0
    bytes_read: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def counted(reader: pa.RecordBatchReader, report: PlannerReport) -> pa.RecordBatchReader:
    """``reader``, adding each batch's rows and bytes to ``report`` as it passes."""

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            report.rows_read += batch.num_rows
            report.bytes_read += batch.nbytes
            yield batch

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
