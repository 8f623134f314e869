"""Several queue policies in one center: [[queue.queues]] in queue.toml, inheriting from [queue];
mistakes are config errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.model import NamedQueue
from acd.states import Strategy
from callcenter.config import load_config
from tests.unit.fakes import SHIPPED_CONFIG
from tests.unit.test_config import copy_config, edit, load_errors

LEGAL = """[[queue.queues]]
name = "legal"             # 法律服务专席: answers take longer to write up
skills = ["legal"]
wrapup = 30
"""


def test_shipped_named_queues_inherit_unset_keys_from_queue() -> None:
    config = load_config(SHIPPED_CONFIG)
    q = config.queue
    legal = config.named_queue("legal")
    assert legal == NamedQueue(
        name="legal",
        skills=("legal",),
        strategy=q.strategy,
        offer_timeout=q.offer_timeout,
        wrapup=30.0,
        max_wait=q.max_wait,
        overflow_target=q.overflow_target,
    )
    enterprise = config.named_queue("enterprise")
    assert enterprise is not None
    assert enterprise.strategy is Strategy.RING_ALL
    assert enterprise.offer_timeout == 20.0
    assert enterprise.wrapup == q.wrapup
    assert config.named_queue("general") is None  # follows [queue]


def test_app_queue_names_are_accepted(tmp_path: Path) -> None:
    d = copy_config(tmp_path)
    edit(d, "queue.toml", 'strategy = "longest_idle"', 'strategy = "rrmemory"')
    edit(
        d,
        "queue.toml",
        'strategy = "ring_all"',
        'strategy = "top-down"\nmax_wait = 0\nannounce = false',
    )
    config = load_config(d)
    assert config.queue.strategy is Strategy.RR_MEMORY
    enterprise = config.named_queue("enterprise")
    assert enterprise is not None
    assert enterprise.strategy is Strategy.LINEAR
    assert enterprise.max_wait is None  # 0: no limit for this queue
    assert enterprise.announce is False


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        (
            'skills = ["legal"]',
            'skills = ["legal", "enterprise"]',
            "queue.queues[1].skills[0]",
            "skill 'enterprise' is already in queue 'legal'",
        ),
        (
            'skills = ["legal"]',
            'skills = ["lawyer"]',
            "queue.queues[0].skills[0]",
            "unknown skill 'lawyer'",
        ),
        ('skills = ["legal"]', "skills = []", "queue.queues[0].skills", "at least one skill"),
        (
            'strategy = "ring_all"',
            'strategy = "ring_progressive"',
            "queue.queues[1].strategy",
            "must be one of longest_idle",
        ),
        ("wrapup = 30", "wrapup = -1", "queue.queues[0].wrapup", "zero or more"),
        ("offer_timeout = 20", "offer_timeout = 0", "queue.queues[1].offer_timeout", "more than"),
        ('name = "enterprise"', 'name = "legal"', "queue.queues[1].name", "duplicate queue name"),
        ("wrapup = 30", "wrapup = 30\nwrap = 1", "queue.queues[0].wrap", "unknown key"),
        ('name = "legal"   ', "", "queue.queues[0].name", "is required"),
    ],
)
def test_named_queue_mistakes_name_file_and_key(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    d = copy_config(tmp_path)
    edit(d, "queue.toml", old, new)
    errors = load_errors(d)
    found = [(e.file, e.key, e.message) for e in errors.errors]
    assert [(f, k) for f, k, _ in found] == [("config/queue.toml", key)], found
    assert message in found[0][2]


def test_bad_strategy_names_the_key_and_the_known_names(tmp_path: Path) -> None:
    d = copy_config(tmp_path)
    edit(d, "queue.toml", 'strategy = "longest_idle"', 'strategy = "leastrecentt"')
    (e,) = load_errors(d).errors
    assert (e.file, e.key) == ("config/queue.toml", "queue.strategy")
    assert "rrmemory" in e.message and "wrandom" in e.message and "top-down" in e.message
