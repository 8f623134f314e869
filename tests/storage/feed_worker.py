"""Runs one export feed in its own process, for the kill test in test_feeds.py:
`feed_worker.py CONFIG_DIR DB_URL FEED forever|once`."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from callcenter.data.feeds import main_feed  # noqa: E402

if __name__ == "__main__":
    config, url, name, mode = sys.argv[1:5]
    raise SystemExit(main_feed(Path(config), url, name, once=mode == "once"))
