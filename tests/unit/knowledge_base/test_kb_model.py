"""The knowledge-base entry lifecycle as tables: every action from every status, the review
rule (reviewer is not the author), rejection notes, expiry at expires_at, and the published
version each step leaves in force (a draft over a published version does not replace it)."""

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
    ("published", "effective_from", "expires_at", "shown"),
    [
        (1, None, None, True),
        (3, T0 - 10, T0 + 10, True),
        (1, T0 + 10, None, False),  # not in effect yet
        (1, None, T0, False),  # expired now, even before expire_due ran
        (None, None, None, False),  # nothing published: a draft, expired, retired
    ],
)
def test_in_force(
    published: int | None, effective_from: float | None, expires_at: float | None, shown: bool
) -> None:
    assert in_force(published, effective_from, expires_at, T0) is shown


def _run(steps: list[tuple[Action, str]], expires_at: float | None = None) -> list[EntryState]:
    """Apply (action, actor) steps from a new entry by 作者; every state after each."""
    state = created("作者", expires_at)
    out = [state]
    for n, (action, actor) in enumerate(steps, 1):
        state = apply(state, Step(action, actor, T0 + n, "请修改"))
        out.append(state)
    return out


E, S, A, R = Action.EDIT, Action.SUBMIT, Action.APPROVE, Action.REJECT
D, V, P = Status.DRAFT, Status.REVIEW, Status.PUBLISHED


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (status, latest version, published version) after each step
        ([(S, "作者"), (A, "审核")], [(D, 1, None), (V, 1, None), (P, 1, 1)]),
        (  # publish v1, draft v2: v1 stays published; approve v2: v2 published
            [(S, "作者"), (A, "审核"), (E, "编辑"), (S, "编辑"), (A, "审核")],
            [(D, 1, None), (V, 1, None), (P, 1, 1), (D, 2, 1), (V, 2, 1), (P, 2, 2)],
        ),
        (  # reject v2: v1 stays published, v3 drafted over it
            [(S, "作者"), (A, "审核"), (E, "编辑"), (S, "编辑"), (R, "审核"), (E, "编辑")],
            [(D, 1, None), (V, 1, None), (P, 1, 1), (D, 2, 1), (V, 2, 1), (D, 2, 1), (D, 3, 1)],
        ),
        (  # a draft never approved publishes nothing
            [(E, "编辑"), (S, "编辑"), (R, "审核")],
            [(D, 1, None), (D, 2, None), (V, 2, None), (D, 2, None)],
        ),
        (  # retiring withdraws the published version, even under a draft
            [(S, "作者"), (A, "审核"), (E, "编辑"), (Action.RETIRE, "审核")],
            [(D, 1, None), (V, 1, None), (P, 1, 1), (D, 2, 1), (Status.RETIRED, 2, None)],
        ),
    ],
)
def test_the_published_version_through_the_lifecycle(
    steps: list[tuple[Action, str]], expected: list[tuple[Status, int, int | None]]
) -> None:
    assert [(s.status, s.version, s.published) for s in _run(steps)] == expected


@pytest.mark.parametrize(
    ("status", "published", "after", "error"),
    [
        (Status.PUBLISHED, 1, Status.EXPIRED, None),
        (Status.DRAFT, 1, Status.DRAFT, None),  # a draft over it keeps its status
        (Status.REVIEW, 2, Status.REVIEW, None),
        (Status.DRAFT, None, None, IllegalTransition),  # nothing published to expire
        (Status.EXPIRED, None, None, IllegalTransition),
        (Status.RETIRED, None, None, IllegalTransition),
    ],
)
def test_expiry_withdraws_the_published_version(
    status: Status, published: int | None, after: Status | None, error: type[Exception] | None
) -> None:
    state = EntryState(status, 3, "作者", T0, published)
    step = Step(Action.EXPIRE, "system", T0)
    if error is not None:
        with pytest.raises(error):
            apply(state, step)
        return
    expired = apply(state, step)
    assert (expired.status, expired.version, expired.published) == (after, 3, None)
    with pytest.raises(IllegalTransition):  # not yet due
        apply(state, Step(Action.EXPIRE, "system", T0 - 1))


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
