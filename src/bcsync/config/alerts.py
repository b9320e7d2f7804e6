"""The ``alerts:`` section of ``bcsync.yml``: channels, default triggers and per-sync overrides.

Channels are a union on ``type``. Everything that grants access (webhook URLs, routing keys,
tokens, SMTP URLs with a password) is a ``SecretStr``, so it never shows in a repr or message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from bcsync.config.issues import ConfigIssue, Frozen

_PHONE = r"^\+[1-9][0-9]{6,14}$"  # E.164, what Twilio expects
_EMAIL = r"^[^@\s]+@[^@\s]+$"
Phone = Annotated[str, Field(pattern=_PHONE)]
Email = Annotated[str, Field(pattern=_EMAIL)]
HttpUrl = Annotated[str, Field(pattern=r"^https?://\S+$")]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


def _scheme_check(value: SecretStr, schemes: tuple[str, ...]) -> SecretStr:
    # Checked without echoing the value: it is a secret.
    if not re.match(rf"({'|'.join(schemes)})://\S+$", value.get_secret_value()):
        raise ValueError(f"must be a {' or '.join(s + '://' for s in schemes)} URL")
    return value


class SlackChannel(Frozen):
    type: Literal["slack"]
    webhook_url: SecretStr

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return _scheme_check(value, ("https", "http"))


class PagerDutyChannel(Frozen):
    type: Literal["pagerduty"]
    routing_key: SecretStr
    events_url: HttpUrl = "https://events.pagerduty.com/v2/enqueue"


class SmsChannel(Frozen):
    type: Literal["sms"]
    account_sid: Annotated[str, Field(min_length=1)]
    auth_token: SecretStr
    from_: Phone = Field(alias="from")
    to: list[Phone] = Field(min_length=1)
    base_url: HttpUrl = "https://api.twilio.com"


class EmailChannel(Frozen):
    type: Literal["email"]
    smtp_url: SecretStr
    from_: Email = Field(alias="from")
    to: list[Email] = Field(min_length=1)

    @field_validator("smtp_url")
    @classmethod
    def _url(cls, value: SecretStr) -> SecretStr:
        return _scheme_check(value, ("smtp", "smtps"))


Channel = Annotated[
    SlackChannel | PagerDutyChannel | SmsChannel | EmailChannel, Field(discriminator="type")
]


class RejectedRowsThresholds(Frozen):
    """Share of planned rows rejected or invalid at which a run is a warning / critical."""

    warning: Share | None = None
    critical: Share | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.warning is not None and self.critical is not None and self.warning > self.critical:
            raise ConfigIssue(("warning",), "must not be above critical")
        return self

    def over(self, base: RejectedRowsThresholds) -> RejectedRowsThresholds:
        """These thresholds, falling back to ``base`` for the levels not set here."""
        return RejectedRowsThresholds(
            warning=self.warning if self.warning is not None else base.warning,
            critical=self.critical if self.critical is not None else base.critical,
        )


# On by default, as in the products users come from (Census: failed records at 75%); a
# project's ``alerts.defaults.rejected_rows`` and a sync's own thresholds merge over it.
BUILTIN_REJECTED_ROWS = RejectedRowsThresholds(critical=0.75)


class AlertDefaults(Frozen):
    channels: list[str] = Field(default_factory=list)
    rejected_rows: RejectedRowsThresholds = RejectedRowsThresholds()


class SyncAlertsConfig(Frozen):
    """Per-sync overrides: ``channels`` replaces the default list; thresholds merge per level."""

    channels: list[str] | None = None
    rejected_rows: RejectedRowsThresholds | None = None


@dataclass(frozen=True)
class AlertPolicy:
    """What one sync alerts on and where: the defaults with the sync's overrides applied."""

    channels: tuple[str, ...] = ()
    rejected_rows: RejectedRowsThresholds = field(default_factory=RejectedRowsThresholds)


class AlertsConfig(Frozen):
    channels: dict[str, Channel] = Field(default_factory=dict)
    defaults: AlertDefaults = AlertDefaults()

    def policy_for(self, own: SyncAlertsConfig | None) -> AlertPolicy:
        """The policy of a sync whose own ``alerts:`` section is ``own``."""
        channels = self.defaults.channels
        thresholds = self.defaults.rejected_rows.over(BUILTIN_REJECTED_ROWS)
        if own is not None:
            if own.channels is not None:
                channels = own.channels
            if own.rejected_rows is not None:
                thresholds = own.rejected_rows.over(thresholds)
        return AlertPolicy(channels=tuple(channels), rejected_rows=thresholds)
