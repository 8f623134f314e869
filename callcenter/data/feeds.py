"""Export feeds to upstream and partner systems (GB/T 44192 5.2, GB/T 44190 6.2.4.2): the
好差评 system, a provincial platform, departments' own systems.

Each feed (config/exports.toml `[[feed]]`) sends the ticket actions after its cursor as
signed JSON batches over HTTP. The cursor (`export_cursors`) moves only when the receiver
answered 2xx, in the same transaction as the `export_deliveries` row; an error or a timeout
is retried with exponential back-off until it succeeds or the runner is stopped. A runner
killed after the receiver got a batch but before the cursor moved sends that batch again
with the same `Idempotency-Key` and event ids: receivers deduplicate by event id.

Every event is redacted for the feed's role by the catalogue-driven `Redactor`
(config/protection.toml x config/catalog.toml grades). A feed whose role would send a sensitive
or core field in clear does not start unless the feed lists that field in `clear_fields`.

Each acknowledged batch is on record in the append-only data access log (GB/T 44192 8.2): one
`export` row (actor `feed:NAME`, the feed's role, dataset `tickets`, record id `FIRST-LAST`,
the fields sent in clear; the receiver, event count, masked fields and Idempotency-Key in its
purpose) written in the same transaction as the cursor move and the `export_deliveries` row.
So a batch has its row exactly when the cursor passed it: a runner killed after the receiver
took a batch but before that commit leaves no row, and the batch re-sent after the restart
(same key, same event ids) gets its one row when it is acknowledged, never a second. Retries
within one run (an error or a timeout) are not separate rows: the row says how many attempts
the batch took.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic.dataclasses import dataclass as model
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from callcenter.config_models import STRICT, Checked, FileModel, Float, Int, Report, Str
from callcenter.data.audit import record_access
from callcenter.data.catalog import load_annotations
from callcenter.data.crypto import FieldCipher, KeyConfigError, load_cipher
from callcenter.data.feed_source import STAGES, Event, iso_cst, scan
from callcenter.data.grades import Grade
from callcenter.data.protection import Action, Redactor, load_policy
from callcenter.errors import CallcenterError
from callcenter.storage.database import Database
from callcenter.storage.schema import ExportCursor, ExportDelivery
from callcenter.tickets.model import Role
from callcenter.tomlreader import ConfigError, read_toml

log = logging.getLogger(__name__)

FILE = "exports.toml"
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,47}$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
AUDIT_DATASET = "tickets"  # the data access log's dataset of a feed's rows


class FeedError(CallcenterError):
    """A feed cannot run (unknown name, missing secret, cursor moved by another runner)."""

    error_id = "export.feed"


# Where each personal field of an event comes from: the catalogue's grade and kind of that
# column decide, for the feed's role, whether it leaves in clear, masked or not at all.
EVENT_SOURCES: dict[str, tuple[str, str]] = {
    "caller_number": ("tickets", "caller_number"),
    "title": ("tickets", "title"),
    "note": ("ticket_history", "note"),
    "details": ("ticket_history", "details"),
    "department": ("tickets", "department"),
    "channel": ("tickets", "channel"),
}
ROLES = tuple(role.value for role in Role)


def _non_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _up_to(high: float) -> Checked:
    """A number above 0 and at most `high`."""

    def check(value: float) -> str | None:
        return None if 0 < value <= high else f"must be above 0 and at most {high:g}"

    return Checked(check, exclusiveMinimum=0, maximum=high)


def _url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"
    return None


def _listed(allowed: Collection[str], what: str) -> Checked:
    def check(value: str) -> str | None:
        return (
            None
            if value in allowed
            else f"unknown {what} {value!r} (allowed: {', '.join(allowed)})"
        )

    return Checked(check, enum=list(allowed))


FeedName = Annotated[
    Str,
    Checked(
        lambda v: None if NAME.match(v) else "must be lowercase letters, digits, - or _",
        pattern=NAME.pattern,
    ),
]
EnvName = Annotated[
    Str,
    Checked(
        lambda v: None if ENV_NAME.match(v) else "must be an environment variable name",
        pattern=ENV_NAME.pattern,
    ),
]
RoleName = Annotated[
    Str, Checked(lambda v: None if v in ROLES else f"must be one of {', '.join(ROLES)}", enum=ROLES)
]


@model(frozen=True, config=STRICT)
class FeedConfig:
    """One `[[feed]]` of exports.toml (a `secret` key is refused by load_exports)."""

    name: FeedName
    url: Annotated[Str, Checked(_url)]
    secret_env: EnvName  # the environment variable holding the HMAC secret
    role: RoleName  # the role whose view of the catalogue every event is redacted to
    stages: tuple[Annotated[Str, _listed(STAGES, "stage")], ...] = ()  # empty: every stage
    # a department's own system: only its tickets
    department: Annotated[Str, Checked(_non_empty)] | None = None
    batch: Annotated[
        Int,
        Checked(
            lambda v: None if 1 <= v <= 5000 else "must be from 1 to 5000", minimum=1, maximum=5000
        ),
    ] = 200  # events per POST
    timeout: Annotated[Float, _up_to(600)] = 10.0  # seconds per request
    backoff: Annotated[Float, _up_to(600)] = 0.5  # first retry delay, doubling
    max_backoff: Annotated[Float, _up_to(3600)] = 60.0  # at least backoff
    # seconds a missing history id may hold a feed back
    gap_grace: Annotated[
        Float,
        Checked(
            lambda v: None if 0 <= v <= 86400 else "must be from 0 to 86400",
            minimum=0,
            maximum=86400,
        ),
    ] = 60.0
    poll: Annotated[Float, _up_to(3600)] = (
        5.0  # seconds between looks when there is nothing to send
    )
    # sensitive or core event fields this receiver may have in clear (its role gives them)
    clear_fields: tuple[Annotated[Str, _listed(EVENT_SOURCES, "event field")], ...] = ()


class ExportsTable(FileModel):
    exported_by: Annotated[Str, Checked(_non_empty)] = "12345"  # who we are, in every payload


class ExportsFile(FileModel):
    """exports.toml: the export feeds to upstream and partner systems."""

    exports: ExportsTable = ExportsTable()
    feed: tuple[FeedConfig, ...] = ()


@dataclass(frozen=True)
class ExportsConfig:
    exported_by: str  # who we are, in every payload
    feeds: tuple[FeedConfig, ...]

    def feed(self, name: str) -> FeedConfig:
        for feed in self.feeds:
            if feed.name == name:
                return feed
        known = ", ".join(f.name for f in self.feeds) or "无"
        raise FeedError(f"导出通道 {name} 未在 {FILE} 中配置（已配置：{known}）")


# --- config ----------------------------------------------------------------------------------


def load_exports(directory: str | Path) -> ExportsConfig:
    """Read config/exports.toml; every mistake names the file and the key (ConfigErrors)."""
    path = Path(directory) / FILE
    file = str(path)
    data = read_toml(path)
    report = Report()
    tables = data.get("feed")
    if isinstance(tables, list):  # the secret itself is never a key: say so, not "unknown"
        for i, table in enumerate(tables):
            if isinstance(table, dict) and "secret" in table:
                report.error(
                    file,
                    f"feed[{i}].secret",
                    "never put the secret in the file: name its variable in secret_env",
                )
        tables = [
            {k: v for k, v in t.items() if k != "secret"} if isinstance(t, dict) else t
            for t in tables
        ]
        data = {**data, "feed": tables}
    found = report.validate(ExportsFile, data, file)
    if found is not None:
        feeds = list(enumerate(found.feed))
    else:  # the cross-checks still look at the feeds without a mistake of their own
        listed = tables if isinstance(tables, list) else []
        feeds = [(i, f) for i, t in enumerate(listed) if (f := _valid_feed(t))]
    names: set[str] = set()
    for i, feed in feeds:
        if feed.max_backoff < feed.backoff:
            report.error(
                file, f"feed[{i}].max_backoff", f"must be at least backoff ({feed.backoff:g})"
            )
        if feed.name in names:
            report.error(file, f"feed[{i}].name", f"duplicate feed name {feed.name!r}")
        names.add(feed.name)
    report.raise_if_any()
    assert found is not None
    return ExportsConfig(found.exports.exported_by, found.feed)


def _valid_feed(table: Any) -> FeedConfig | None:
    return Report().validate(FeedConfig, table, FILE)


def feed_secret(feed: FeedConfig, environ: Mapping[str, str] | None = None) -> bytes:
    """The feed's HMAC secret from its environment variable; FeedError (one line naming the
    variable) when it is unset or empty."""
    env = os.environ if environ is None else environ
    value = env.get(feed.secret_env, "")
    if not value:
        raise FeedError(
            f"导出通道 {feed.name}：环境变量 {feed.secret_env} 未设置（应存放签名密钥）"
        )
    return value.encode("utf-8")


# --- payload ---------------------------------------------------------------------------------


def needs_keys(redactor: Redactor) -> bool:
    """Whether the feed's role gets the caller's number (in clear or masked): it is stored
    encrypted, so the feed decrypts it first."""
    return redactor.action(*EVENT_SOURCES["caller_number"]) is not Action.HIDE


def redact_with(event: Event, redactor: Redactor) -> Event:
    """The event as the feed's role may see it, by the catalogue and the masking policy."""
    out: Event = {}
    for name, value in event.items():
        source = EVENT_SOURCES.get(name)
        if source is None:
            out[name] = value
        elif redactor.action(*source) is not Action.HIDE:
            out[name] = _redact_value(redactor, source, value)
    return out


def _redact_value(redactor: Redactor, source: tuple[str, str], value: object) -> object:
    if isinstance(value, str):
        return redactor.value(*source, value)
    if isinstance(value, dict):  # JSON details: each text inside, as the column's kind says
        return {k: _redact_value(redactor, source, v) for k, v in value.items()}
    return value


def exposure(redactor: Redactor) -> tuple[list[str], list[str]]:
    """The sensitive or core event fields this role gets (in clear, masked); the rest of an
    event (ids, stage, action, time, status, type, topic, department, channel, rating) is
    public or internal."""
    clear: list[str] = []
    masked: list[str] = []
    for name, (table, column) in EVENT_SOURCES.items():
        if redactor.annotations.field(table, column).grade.rank < Grade.SENSITIVE.rank:
            continue
        action = redactor.action(table, column)
        if action is Action.CLEAR:
            clear.append(name)
        elif action is Action.MASK:
            masked.append(name)
    return clear, masked


def check_exposure(feed: FeedConfig, redactor: Redactor) -> None:
    """FeedError unless the redactor is for the feed's role and every sensitive field that
    role gets in clear is listed in the feed's clear_fields."""
    if redactor.role != feed.role:
        raise FeedError(f"导出通道 {feed.name}：脱敏角色 {redactor.role} 与配置的 {feed.role} 不符")
    unlisted = [f for f in exposure(redactor)[0] if f not in feed.clear_fields]
    if unlisted:
        raise FeedError(
            f"导出通道 {feed.name}：角色 {feed.role} 会明文发送 {', '.join(unlisted)}；"
            f"确需明文时在 {FILE} 的 clear_fields 中逐项列出"
        )


def feed_redactor(config_dir: Path, feed: FeedConfig) -> Redactor:
    """The feed role's view, from protection.toml and catalog.toml in config_dir."""
    return Redactor(
        load_policy(config_dir / "protection.toml"),
        load_annotations(config_dir / "catalog.toml"),
        feed.role,
    )


def sign(body: bytes, secret: bytes) -> str:
    """The X-CC-Signature header value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str, secret: bytes) -> bool:
    """For receivers: whether X-CC-Signature matches the body (constant-time compare)."""
    scheme, _, digest = header.strip().partition("=")
    if scheme != "sha256" or not digest:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), digest.strip().lower().encode("ascii"))


def backoff_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): base doubling up to
    cap, then scaled into [half, all] of that by `jitter` in [0, 1]."""
    delay = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return delay * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def payload(feed: str, exported_by: str, events: list[Event], exported_at: float) -> bytes:
    first, last = events[0]["seq"], events[-1]["seq"]
    document = {
        "feed": feed,
        "batch": {"first": first, "last": last},
        "exported_by": exported_by,
        "exported_at": iso_cst(exported_at),
        "events": events,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- delivery --------------------------------------------------------------------------------


class DeliveryFailed(CallcenterError):
    """The receiver did not acknowledge: an error status, a timeout, a broken connection."""

    status = 502
    error_id = "export.delivery_failed"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirected POST is not an acknowledgement: report the 3xx as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
    """POST the body; return the 2xx status, or raise DeliveryFailed."""
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(65536)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DeliveryFailed(f"{type(exc).__name__}: {reason}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status}")
    return status


class FeedRunner:
    """Runs one feed against one database: `run_once` sends what is available now,
    `run_forever` keeps polling until stopped. Sync: run it in a worker thread or its own
    process (`main_feed`)."""

    def __init__(
        self,
        db: Database,
        feed: FeedConfig,
        secret: bytes,
        redactor: Redactor,
        exported_by: str = "12345",
        stop: threading.Event | None = None,
        cipher: FieldCipher | None = None,
    ) -> None:
        check_exposure(feed, redactor)
        if cipher is None and needs_keys(redactor):
            raise FeedError(
                f"导出通道 {feed.name}：来电号码在库内加密，导出需要数据密钥"
                "（见 callcenter.data.crypto）"
            )
        self.cipher = cipher  # decrypts the caller's number, which the redactor then masks
        self.db = db
        self.feed = feed
        self.redactor = redactor  # the catalogue's masking for the feed's role
        self.in_clear, self.masked = exposure(redactor)
        self.secret = secret
        self.exported_by = exported_by
        self.stop = stop or threading.Event()
        self.gaps: dict[int, float] = {}  # missing history id -> first seen (epoch)
        self._random = random.Random()

    def run_once(self, now: float | None = None) -> int:
        """Deliver every batch available now (retrying each until acknowledged or stopped);
        returns the number of events delivered. `now` fixes the clock of the gap rule."""
        delivered = 0
        while not self.stop.is_set():
            sent, more = self._batch(now)
            delivered += sent
            if not more:
                break
        return delivered

    def run_forever(self, stop_event: threading.Event) -> None:
        """Poll and deliver until `stop_event` is set; errors are logged and retried."""
        self.stop = stop_event
        failures = 0
        while not stop_event.is_set():
            try:
                sent = self.run_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("feed %s: run failed", self.feed.name)
                delay = backoff_delay(
                    failures, self.feed.backoff, self.feed.max_backoff, self._random.random()
                )
                stop_event.wait(max(delay, self.feed.poll))
                continue
            if sent == 0:
                stop_event.wait(self.feed.poll)

    def position(self) -> int:
        """The cursor: the last history id the receiver acknowledged (creates it at 0)."""
        with self.db.session() as s:
            row = s.get(ExportCursor, self.feed.name)
            if row is not None:
                return int(row.position)
        try:
            self.db.transaction(
                lambda s: s.add(
                    ExportCursor(
                        feed=self.feed.name, position=0, delivered=0, updated_at=time.time()
                    )
                )
            )
        except IntegrityError:
            return self.position()
        return 0

    def _batch(self, now: float | None) -> tuple[int, bool]:
        feed = self.feed
        cursor = self.position()
        at = time.time() if now is None else now
        for gap in [g for g in self.gaps if g <= cursor]:
            del self.gaps[gap]
        with self.db.session() as s:
            found = scan(
                s,
                feed.name,
                feed.stages,
                feed.department,
                cursor,
                feed.batch,
                self.gaps,
                at,
                feed.gap_grace,
                cipher=self.cipher,
            )
        if not found.events:
            if found.position > cursor:
                self._commit(cursor, found.position, None, 0)
            return 0, False
        events = [redact_with(e, self.redactor) for e in found.events]
        first, last = int(str(events[0]["seq"])), int(str(events[-1]["seq"]))
        body = payload(feed.name, self.exported_by, events, time.time())
        attempt = 0
        while True:
            attempt += 1
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "X-CC-Signature": sign(body, self.secret),
                "X-CC-Timestamp": str(int(time.time())),
                "Idempotency-Key": idempotency_key(feed.name, first, last),
                "User-Agent": "callcenter-feed/1",
            }
            try:
                post(feed.url, body, headers, feed.timeout)
                break
            except DeliveryFailed as exc:
                error = str(exc)
            log.warning(
                "feed %s: batch %d-%d attempt %d failed: %s", feed.name, first, last, attempt, error
            )
            self._record_failure(first, last, len(events), attempt, error)
            delay = backoff_delay(attempt, feed.backoff, feed.max_backoff, self._random.random())
            if self.stop.wait(delay):
                return 0, False
        self._commit(cursor, found.position, (first, last, attempt), len(events))
        log.info("feed %s: delivered %d events (%d-%d)", feed.name, len(events), first, last)
        return len(events), found.full

    def _record_failure(self, first: int, last: int, events: int, attempt: int, error: str) -> None:
        row = ExportDelivery(
            feed=self.feed.name,
            first=first,
            last=last,
            events=events,
            attempts=attempt,
            status="failed",
            error=error[:2000],
            at=time.time(),
        )
        self.db.transaction(lambda s: s.add(row))

    def _commit(self, old: int, new: int, batch: tuple[int, int, int] | None, events: int) -> None:
        """Move the cursor from `old` to `new` (and record the delivery) in one transaction;
        FeedError when another runner moved it meanwhile."""
        name = self.feed.name

        def work(s: Session) -> None:
            now = time.time()
            if batch is not None:
                first, last, attempts = batch
                self._record_access(s, first, last, events, attempts)
                s.add(
                    ExportDelivery(
                        feed=name,
                        first=first,
                        last=last,
                        events=events,
                        attempts=attempts,
                        status="delivered",
                        error="",
                        at=now,
                    )
                )
            moved = s.connection().execute(
                update(ExportCursor)
                .where(ExportCursor.feed == name, ExportCursor.position == old)
                .values(position=new, delivered=ExportCursor.delivered + events, updated_at=now)
            )
            if moved.rowcount != 1:
                raise FeedError(
                    f"feed {name}: the cursor moved from {old}: is another runner on it?"
                )

        self.db.transaction(work)

    def _record_access(self, s: Session, first: int, last: int, events: int, attempts: int) -> None:
        feed = self.feed
        masked = ",".join(self.masked) or "none"
        record_access(
            s,
            f"feed:{feed.name}",
            feed.role,
            "export",
            AUDIT_DATASET,
            f"{first}-{last}",
            self.in_clear,
            f"feed {feed.name} to {feed.url}: {events} events, history {first}-{last},"
            f" Idempotency-Key {idempotency_key(feed.name, first, last)}, attempts {attempts},"
            f" masked {masked}, exported_by {self.exported_by}",
        )


def idempotency_key(feed: str, first: int, last: int) -> str:
    """The Idempotency-Key of a batch: the same for every (re-)send of it."""
    return f"{feed}:{first}-{last}"


# --- command line ----------------------------------------------------------------------------


def main_feed(config_dir: Path, db_url: str, name: str, once: bool) -> int:
    """`callcenter data feed NAME`: run one feed (once: until caught up). Returns the exit
    status: 0 done or stopped, 2 the feed cannot run (one line on stderr says why)."""
    try:
        exports = load_exports(config_dir)
        feed = exports.feed(name)
        secret = feed_secret(feed)
        redactor = feed_redactor(config_dir, feed)
        check_exposure(feed, redactor)
        cipher = load_cipher() if needs_keys(redactor) else None
    except (ConfigError, FeedError, KeyConfigError) as exc:
        print(f"导出失败：{exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def stopping(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stopping)
    db = Database(db_url)
    try:
        runner = FeedRunner(db, feed, secret, redactor, exports.exported_by, stop, cipher)
        if once:
            sent = runner.run_once()
            print(f"导出通道 {feed.name}：本次送达 {sent} 条事件")
        else:
            runner.run_forever(stop)
    finally:
        db.close()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0
