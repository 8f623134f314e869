"""The interpreter settings the service makes before its owner task starts."""

from __future__ import annotations

import gc
import sys

from callcenter.service import SWITCH_INTERVAL, tune_interpreter


def test_switch_interval_and_the_start_frozen_out_of_the_collector() -> None:
    before = sys.getswitchinterval()
    try:
        # from the interpreter's default, whatever an earlier test (a Service run in this
        # process) left behind
        sys.setswitchinterval(0.005)
        gc.unfreeze()
        tune_interpreter()
        assert sys.getswitchinterval() == SWITCH_INTERVAL < 0.005
        assert gc.get_freeze_count() > 0  # the modules and objects made so far
    finally:
        gc.unfreeze()
        sys.setswitchinterval(before)
