"""Several queue policies in one center: [[queue.queues]] in queue.toml, inheriting from [queue];
mistakes are config errors naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.model import NamedQueue
from acd.states import Strategy
from callcenter.config import load_config
from callcenter.pbx.asterisk.settings import overflow_location as asterisk
from callcenter.pbx.freeswitch.settings import overflow_location as freeswitch
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


FREESWITCH_NODE = """[[pbx.nodes]]
name = "f"
kind = "freeswitch"
esl_port = 15521
sip_port = 15500
rtp_start = 21000
rtp_end = 21999
"""


@pytest.mark.parametrize("target", ["", "12345", "cc-entry,12345,1", "cc-legal,s,1"])
def test_an_overflow_target_an_asterisk_node_takes(tmp_path: Path, target: str) -> None:
    d = copy_config(tmp_path)
    edit(d, "queue.toml", 'overflow_target = ""', f'overflow_target = "{target}"')
    assert load_config(d).queue.overflow_target == target


def test_an_overflow_target_in_the_wrong_kinds_form_names_the_key_and_both_forms(
    tmp_path: Path,
) -> None:
    """On an Asterisk node a FreeSWITCH transfer is no target; beside a FreeSWITCH node too an
    Asterisk location is none; a number of numbers.toml is one on both."""
    d = copy_config(tmp_path)
    edit(d, "queue.toml", 'overflow_target = ""', 'overflow_target = "12345 XML cc-inbound"')
    (e,) = load_errors(d).errors
    assert (e.file, e.key) == ("config/queue.toml", "queue.overflow_target")
    assert "number of numbers.toml" in e.message and '"context,exten,priority"' in e.message
    edit(d, "queue.toml", 'overflow_target = "12345 XML cc-inbound"', 'overflow_target = "12345"')
    edit(d, "queue.toml", 'skills = ["legal"]', 'skills = ["legal"]\noverflow_target = "x,s,1"')
    edit(d, "center.toml", "\n# The agents' browser phones", f"\n{FREESWITCH_NODE}\n# The")
    (e,) = load_errors(d).errors
    assert (e.file, e.key) == ("config/queue.toml", "queue.queues[0].overflow_target")
    assert '"EXTENSION XML CONTEXT"' in e.message and "Asterisk" not in e.message
    edit(d, "queue.toml", 'overflow_target = "x,s,1"', 'overflow_target = "12333"')
    config = load_config(d)
    assert config.named_queue("legal") is not None
    assert config.named_queue("legal").overflow_target == "12333"  # type: ignore[union-attr]


def test_each_kind_sends_an_overflowing_caller_to_its_form_of_the_target() -> None:
    assert asterisk("12345") == "cc-entry,12345,1"
    assert asterisk("cc-legal,s,1") == "cc-legal,s,1"
    assert freeswitch("12345") == "12345 XML cc-inbound"
    assert freeswitch("vip XML cc-local") == "vip XML cc-local"
    assert freeswitch("") == "timeout XML cc-hold"
