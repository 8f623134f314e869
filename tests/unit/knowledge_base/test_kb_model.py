"""The knowledge-base entry lifecycle as tables: every action from every status, the review
rule (reviewer is not the author), rejection notes, expiry at expires_at."""

from __future__ import annotations

import pytest

from callcenter.knowledge_base.model import (
    Action,
    EntryState,
    IllegalTransition,
    InvalidField,
    KnowledgeError,
    MissingField,
    SameReviewer,
    Status,
    Step,
    apply,
    check_period,
    created,
    in_force,
    is_due,
)

T0 = 1_800_000_000.0
ALL = list(Status)

# action -> the statuses it is allowed from and the status it leads to
TABLE = {
    Action.EDIT: ({Status.DRAFT, Status.REVIEW, Status.PUBLISHED, Status.EXPIRED}, Status.DRAFT),
    Action.SUBMIT: ({Status.DRAFT}, Status.REVIEW),
    Action.APPROVE: ({Status.REVIEW}, Status.PUBLISHED),
    Action.REJECT: ({Status.REVIEW}, Status.DRAFT),
    Action.EXPIRE: ({Status.PUBLISHED}, Status.EXPIRED),
    Action.RETIRE: (
        {Status.DRAFT, Status.REVIEW, Status.PUBLISHED, Status.EXPIRED},
        Status.RETIRED,
    ),
}


def _step(action: Action) -> Step:
    # a reviewer other than the author, a note, and a time past the expiry of 'state' below
    return Step(action, "审核员", T0 + 100, "请补充办理时限")


@pytest.mark.parametrize("status", ALL)
@pytest.mark.parametrize("action", list(Action))
def test_every_action_from_every_status(action: Action, status: Status) -> None:
    allowed, target = TABLE[action]
    expires = T0 + 50 if action is Action.EXPIRE else T0 + 1000
    state = EntryState(status, 3, "作者", expires)
    if status in allowed:
        after = apply(state, _step(action))
        assert after.status is target
        assert after.version == (4 if action is Action.EDIT else 3)
        assert after.author == ("审核员" if action is Action.EDIT else "作者")
    else:
        with pytest.raises(IllegalTransition):
            apply(state, _step(action))


def test_created_is_draft_version_one() -> None:
    assert created("张三", T0) == EntryState(Status.DRAFT, 1, "张三", T0)
    with pytest.raises(MissingField):
        created(" ")


@pytest.mark.parametrize(
    ("author", "reviewer", "error"),
    [
        ("张三", "李四", None),
        ("张三", "张三", SameReviewer),
        ("张三", "", MissingField),
    ],
)
def test_reviewer_is_not_the_author(
    author: str, reviewer: str, error: type[KnowledgeError] | None
) -> None:
    state = EntryState(Status.REVIEW, 2, author)
    step = Step(Action.APPROVE, reviewer, T0)
    if error is None:
        assert apply(state, step).status is Status.PUBLISHED
    else:
        with pytest.raises(error):
            apply(state, step)


@pytest.mark.parametrize(("note", "ok"), [("请补充政策依据", True), ("", False), ("  ", False)])
def test_rejection_needs_a_note(note: str, ok: bool) -> None:
    state = EntryState(Status.REVIEW, 1, "张三")
    step = Step(Action.REJECT, "李四", T0, note)
    if ok:
        assert apply(state, step).status is Status.DRAFT
    else:
        with pytest.raises(MissingField):
            apply(state, step)


@pytest.mark.parametrize(
    ("expires_at", "now", "due"),
    [(None, T0, False), (T0 + 1, T0, False), (T0, T0, True), (T0 - 1, T0, True)],
)
def test_expiry(expires_at: float | None, now: float, due: bool) -> None:
    assert is_due(expires_at, now) is due
    state = EntryState(Status.PUBLISHED, 1, "张三", expires_at)
    if due:
        assert apply(state, Step(Action.EXPIRE, "system", now)).status is Status.EXPIRED
    else:
        with pytest.raises(IllegalTransition):
            apply(state, Step(Action.EXPIRE, "system", now))


def test_an_expired_version_cannot_be_approved() -> None:
    state = EntryState(Status.REVIEW, 1, "张三", T0)
    with pytest.raises(InvalidField):
        apply(state, Step(Action.APPROVE, "李四", T0 + 1))


@pytest.mark.parametrize(
    ("status", "effective_from", "expires_at", "shown"),
    [
        ("published", None, None, True),
        ("published", T0 - 10, T0 + 10, True),
        ("published", T0 + 10, None, False),  # not in effect yet
        ("published", None, T0, False),  # expired now, even before expire_due ran
        ("draft", None, None, False),
        ("review", None, None, False),
        ("expired", None, None, False),
        ("retired", None, None, False),
    ],
)
def test_in_force(
    status: str, effective_from: float | None, expires_at: float | None, shown: bool
) -> None:
    assert in_force(status, effective_from, expires_at, T0) is shown


@pytest.mark.parametrize(
    ("effective_from", "expires_at", "ok"),
    [(None, None, True), (T0, T0 + 1, True), (T0, T0, False), (T0, T0 - 1, False)],
)
def test_period(effective_from: float | None, expires_at: float | None, ok: bool) -> None:
    if ok:
        check_period(effective_from, expires_at)
    else:
        with pytest.raises(InvalidField):
            check_period(effective_from, expires_at)
