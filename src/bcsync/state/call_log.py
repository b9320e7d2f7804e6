"""The run store's queries behind the UI's live debugger and Alerts page.

The debugger side reads a run's recorded API calls filtered (status class, endpoint, method, the
primary key a call carried) and paged by key (``seq``), never by offset, so a page costs the same
at the end of a run of a million calls as at its start. The alerts side records each
notification sent and reads them back newest first, and lists every trigger's current state.

Everything here takes an open :class:`~bcsync.state.RunStore` and uses its engine and the tables
of ``schema.py``; the callers are ``bcsync.api.Project``'s methods, never the web layer itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bcsync.state.database import read_transaction, write_transaction
from bcsync.state.records import AlertStateRecord, ApiCallRecord
from bcsync.state.schema import alert_states, api_call_pks, api_calls, sent_alerts
from bcsync.state.store import RunStore

# 2xx … 5xx by the answer's status; ``error``: no answer at all (timeout, dropped connection).
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")
_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")
ID = "{id}"


def endpoint_of(path: str) -> str:
    """A call's endpoint: its path with record ids as ``{id}`` (``/v2/orders/{id}``)."""
    return _NUMERIC_SEGMENT.sub("/" + ID, path)


@dataclass(frozen=True)
class CallFilter:
    """Which of a run's calls to show; a field left None does not filter."""

    status: str | None = None  # one of STATUS_CLASSES
    endpoint: str | None = None  # a path, or an endpoint with ``{id}`` segments
    method: str | None = None
    pk: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUS_CLASSES:
            raise ValueError(
                f"status class {self.status!r} is not one of {', '.join(STATUS_CLASSES)}"
            )
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.status, self.endpoint, self.method, self.pk))

    def params(self) -> dict[str, str]:
        """The filter as URL query parameters (only those set)."""
        values = {
            "status": self.status,
            "endpoint": self.endpoint,
            "method": self.method,
            "pk": self.pk,
        }
        return {k: v for k, v in values.items() if v is not None}


def _endpoint_condition(endpoint: str) -> sa.ColumnElement[bool]:
    path = api_calls.c.path
    if ID not in endpoint:
        return path == endpoint
    # ``/v2/orders/{id}``: any path of the same shape, as many segments as the endpoint has.
    escaped = endpoint.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = escaped.replace(ID, "%")
    slashes = endpoint.count("/")
    return sa.and_(
        path.like(pattern, escape="\\"),
        sa.func.length(path) - sa.func.length(sa.func.replace(path, "/", "")) == slashes,
    )


def _conditions(run_id: str, where: CallFilter) -> list[sa.ColumnElement[bool]]:
    c = api_calls.c
    conditions: list[sa.ColumnElement[bool]] = [c.run_id == run_id]
    if where.status == "error":
        conditions.append(c.status.is_(None))
    elif where.status is not None:
        low = int(where.status[0]) * 100
        conditions.append(c.status.between(low, low + 99))
    if where.method is not None:
        conditions.append(c.method == where.method)
    if where.endpoint is not None:
        conditions.append(_endpoint_condition(where.endpoint))
    if where.pk is not None:
        carried = sa.select(api_call_pks.c.seq).where(
            api_call_pks.c.run_id == run_id, api_call_pks.c.pk == where.pk
        )
        conditions.append(c.seq.in_(carried))
    return conditions


def _call_record(row: sa.Row[Any]) -> ApiCallRecord:
    m = dict(row._mapping)
    del m["run_id"]
    m["pks"] = tuple(m["pks"])
    return ApiCallRecord(**m)


@dataclass(frozen=True)
class FilteredCalls:
    """One page of a run's calls in ``seq`` order, and whether more match on either side."""

    calls: Sequence[ApiCallRecord]
    earlier: bool  # calls before the first one match the filter
    later: bool  # calls after the last one match the filter

    @property
    def first_seq(self) -> int | None:
        return self.calls[0].seq if self.calls else None

    @property
    def last_seq(self) -> int | None:
        return self.calls[-1].seq if self.calls else None


def filtered_calls(
    store: RunStore,
    run_id: str,
    where: CallFilter,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 100,
) -> FilteredCalls:
    """The first ``limit`` matching calls after ``after`` (or the last ``limit`` before
    ``before``; neither: the run's first ones)."""
    c = api_calls.c
    conditions = _conditions(run_id, where)
    query = sa.select(api_calls).where(*conditions).limit(limit + 1)
    if before is not None:
        query = query.where(c.seq < before).order_by(c.seq.desc())
    else:
        if after is not None:
            query = query.where(c.seq > after)
        query = query.order_by(c.seq)
    with read_transaction(store.engine) as conn:
        rows = [_call_record(row) for row in conn.execute(query)]
        more = len(rows) > limit
        rows = rows[:limit]
        if before is not None:
            rows.reverse()
            earlier = more
            later = bool(conn.scalar(sa.select(sa.exists().where(*conditions, c.seq >= before))))
        else:
            later = more
            earlier = after is not None and bool(
                conn.scalar(sa.select(sa.exists().where(*conditions, c.seq <= after)))
            )
    return FilteredCalls(tuple(rows), earlier=earlier, later=later)


def matching_calls(
    store: RunStore, run_id: str, where: CallFilter, *, limit: int | None = None
) -> list[ApiCallRecord]:
    """Every call of the run that matches (the first ``limit``), in order (for a HAR)."""
    query = sa.select(api_calls).where(*_conditions(run_id, where)).order_by(api_calls.c.seq)
    if limit is not None:
        query = query.limit(limit)
    with read_transaction(store.engine) as conn:
        return [_call_record(row) for row in conn.execute(query)]


def get_call(store: RunStore, run_id: str, seq: int) -> ApiCallRecord | None:
    query = sa.select(api_calls).where(api_calls.c.run_id == run_id, api_calls.c.seq == seq)
    with read_transaction(store.engine) as conn:
        row = conn.execute(query).first()
    return _call_record(row) if row is not None else None


@dataclass(frozen=True)
class CallFacets:
    """What a run's calls can be filtered by: the methods and endpoints it used."""

    methods: Sequence[str]
    endpoints: Sequence[str]


def call_facets(store: RunStore, run_id: str) -> CallFacets:
    c = api_calls.c
    query = sa.select(c.method, c.path).where(c.run_id == run_id).group_by(c.method, c.path)
    with read_transaction(store.engine) as conn:
        pairs = conn.execute(query).all()
    methods = sorted({str(method) for method, _ in pairs})
    endpoints = sorted({endpoint_of(str(path)) for _, path in pairs})
    return CallFacets(tuple(methods), tuple(endpoints))


# -- alert notifications ---------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationRecord:
    """One alert message sent (or tried) through one channel. ``error`` is redacted."""

    id: int
    sent_at: datetime
    sync: str  # "-" for a channel test
    trigger: str  # run_failed | rejected_rows | test
    state: str  # the level the message announced
    channel: str
    kind: str  # slack | pagerduty | sms | email
    delivered: bool
    attempts: int
    error: str | None
    run_id: str | None
    title: str


def record_notification(
    store: RunStore,
    *,
    sync: str,
    trigger: str,
    state: str,
    channel: str,
    kind: str,
    delivered: bool,
    attempts: int,
    error: str | None,
    run_id: str | None,
    title: str,
) -> int:
    """Remember one notification; returns its id. The caller redacts ``error`` and ``title``."""
    with write_transaction(store.engine) as conn:
        result = conn.execute(
            sent_alerts.insert().values(
                sent_at=datetime.now(UTC),
                sync=sync,
                trigger=trigger,
                state=state,
                channel=channel,
                kind=kind,
                delivered=delivered,
                attempts=attempts,
                error=error,
                run_id=run_id,
                title=title,
            )
        )
        key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _notification(row: sa.Row[Any]) -> NotificationRecord:
    m = dict(row._mapping)
    m["delivered"] = bool(m["delivered"])
    return NotificationRecord(**m)


@dataclass(frozen=True)
class NotificationPage:
    """Notifications newest first, and whether older ones follow."""

    items: Sequence[NotificationRecord]
    older: bool


def notifications(
    store: RunStore, *, before: int | None = None, limit: int = 20
) -> NotificationPage:
    """The newest ``limit`` notifications (with ids below ``before``, when given)."""
    n = sent_alerts.c
    query = sa.select(sent_alerts).order_by(n.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(n.id < before)
    with read_transaction(store.engine) as conn:
        rows = [_notification(row) for row in conn.execute(query)]
    return NotificationPage(tuple(rows[:limit]), older=len(rows) > limit)


def get_notification(store: RunStore, notification_id: int) -> NotificationRecord | None:
    query = sa.select(sent_alerts).where(sent_alerts.c.id == notification_id)
    with read_transaction(store.engine) as conn:
        row = conn.execute(query).first()
    return _notification(row) if row is not None else None


def all_alert_states(store: RunStore) -> list[AlertStateRecord]:
    """Every trigger state the store holds, by sync then trigger."""
    s = alert_states.c
    query = sa.select(alert_states).order_by(s.sync, s.trigger)
    with read_transaction(store.engine) as conn:
        return [AlertStateRecord(**row._asdict()) for row in conn.execute(query)]
