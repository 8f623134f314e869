"""Access-log rules without a database: what makes a row acceptable, and how the HTTP query
parameters become filters (each bad parameter named, with a stable error id)."""

from __future__ import annotations

import pytest

from callcenter.data.audit import (
    ACTIONS,
    MAX_LIMIT,
    AccessQuery,
    AuditError,
    AuditQueryError,
    entry,
    parse_query,
)


def test_a_good_row_is_kept_exactly() -> None:
    e = entry(
        " 审计员 ", "auditor", "decrypt", "tickets", "42", ("id_card", "phone"), " 复核 ", "::1"
    )
    assert (e.actor, e.role, e.action, e.dataset) == ("审计员", "auditor", "decrypt", "tickets")
    assert (e.record_id, e.fields, e.purpose, e.remote) == ("42", "id_card,phone", "复核", "::1")
    assert entry("a", "r", "export", "tickets").fields == ""


@pytest.mark.parametrize("action", ACTIONS)
def test_every_known_action_is_accepted(action: str) -> None:
    assert entry("a", "r", action, "d").action == action


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"action": "peek"}, "action"),
        ({"action": "READ"}, "action"),
        ({"actor": " "}, "actor is required"),
        ({"role": ""}, "role is required"),
        ({"dataset": ""}, "dataset is required"),
        ({"fields": ("id_card", "")}, "field names"),
        ({"fields": ("a,b",)}, "field names"),
        ({"actor": "x" * 65}, "actor is longer than 64"),
        ({"role": "x" * 17}, "role is longer than 16"),
        ({"dataset": "x" * 33}, "dataset is longer than 32"),
        ({"record_id": "x" * 65}, "record_id is longer than 64"),
        ({"remote": "x" * 65}, "remote is longer than 64"),
    ],
)
def test_a_row_that_would_not_say_what_happened_is_refused(
    kwargs: dict[str, object], says: str
) -> None:
    args: dict[str, object] = {"actor": "a", "role": "r", "action": "read", "dataset": "d"}
    with pytest.raises(AuditError, match=says) as refused:
        entry(**(args | kwargs))  # type: ignore[arg-type]
    assert refused.value.error_id == "data.audit_invalid"


@pytest.mark.parametrize(
    ("params", "query"),
    [
        ({}, AccessQuery()),
        ({"actor": " 班长 ", "action": "", "dataset": ""}, AccessQuery(actor="班长")),
        (
            {"action": "decrypt", "dataset": "tickets"},
            AccessQuery(action="decrypt", dataset="tickets"),
        ),
        ({"since": "1000", "until": "2000.5"}, AccessQuery(since=1000.0, until=2000.5)),
        ({"since": "1000"}, AccessQuery(since=1000.0)),
        ({"limit": "1", "offset": "0"}, AccessQuery(limit=1)),
        ({"limit": str(MAX_LIMIT), "offset": "20"}, AccessQuery(limit=MAX_LIMIT, offset=20)),
    ],
)
def test_query_parameters_become_filters(params: dict[str, str], query: AccessQuery) -> None:
    assert parse_query(params) == query


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"action": "peek"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"until": "nan"}, "until"),
        ({"since": "inf"}, "since"),
        ({"since": "10", "until": "10"}, "until"),
        ({"since": "10", "until": "9"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"limit": str(MAX_LIMIT + 1)}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
def test_a_bad_parameter_is_named(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(AuditQueryError) as bad:
        parse_query(params)
    assert bad.value.parameter == parameter and bad.value.error_id == "data.audit_query"
    assert str(bad.value).startswith(f"{parameter}: ")
