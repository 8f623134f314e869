"""The engine on hand-made tickets: one finding per event key, levels, the repeated caller's
masked title, the call-volume surge, a district surge not repeated city-wide and a surge that
only the long window finds."""

from __future__ import annotations

from datetime import UTC

from callcenter.alerts.engine import AlertEngine, Finding, TicketFacts
from callcenter.alerts.settings import AlertSettings, Lexicon

MONDAY = 1767571200.0  # 2026-01-05 00:00 UTC
H = 3600.0
LEXICON = Lexicon(sensitive=("自杀",), severe=("自杀",), group=("上访",), group_people=10)


def ticket(
    i: int, at: float, caller: str = "", grid: str = "", content: str = "", shown: str = ""
) -> TicketFacts:
    return TicketFacts(
        i,
        at,
        caller or f"139{i:08d}",
        grid or f"110105{i % 20:03d}{i % 7:03d}",
        ("water", "power", "traffic")[i % 3],
        "诉求",
        content or f"第{i}号诉求内容各不相同{i * 7919}",
        caller_shown=shown,
    )


def test_sensitive_and_group_on_intake() -> None:
    engine = AlertEngine(AlertSettings(lexicon=LEXICON), UTC)
    found = engine.observe(ticket(1, MONDAY, content="再不解决我就自杀，还要组织三十多名业主上访"))
    assert {(f.kind, f.key, f.level) for f in found} == {
        ("sensitive", "sensitive:1", "red"),
        ("group", "group:1", "red"),
    }


def test_repeated_caller_is_one_warning_with_a_masked_number() -> None:
    engine = AlertEngine(AlertSettings(), UTC)
    keys: list[str] = []
    for i in range(7):
        found = [
            f
            # the caller by a key (storage: the number's blind index), shown masked
            for f in engine.observe(
                ticket(i, MONDAY + i * 86400 / 2, "index-of-139", shown="139****5678")
            )
            if f.kind == "repeat_caller"
        ]
        keys.extend(f.key for f in found)
        if found:
            assert "139****5678" in found[0].title and "139" not in found[0].key
    assert len(keys) == 3 and len(set(keys)) == 1  # the 5th, 6th and 7th: one event


def test_call_volume_surge() -> None:
    engine = AlertEngine(AlertSettings(), UTC)
    n = 0
    for day in range(14):
        for hour in range(8, 18):
            for k in range(6):
                n += 1
                assert engine.observe_call(MONDAY + day * 86400 + hour * H + k * 600, n) == []
    now = MONDAY + 14 * 86400 + 10 * H
    found: list[Finding] = []
    for k in range(40):
        n += 1
        found.extend(engine.observe_call(now + k * 60, n))
    assert found and {f.kind for f in found} == {"call_surge"} and len({f.key for f in found}) == 1


def test_a_district_surge_is_not_repeated_city_wide() -> None:
    engine = AlertEngine(AlertSettings(), UTC)
    n = 0
    for day in range(14):
        for hour in range(8, 18):
            for k in range(6):
                n += 1
                assert [
                    f
                    for f in engine.observe(ticket(n, MONDAY + day * 86400 + hour * H + k * 600))
                    if f.kind == "surge"
                ] == []
    now = MONDAY + 14 * 86400 + 10 * H
    found: list[Finding] = []
    for k in range(30):
        n += 1
        t = TicketFacts(
            n, now + k * 60, f"138{n:08d}", f"110108{k:03d}001", "water", "停水", f"停水{n}"
        )
        found.extend(f for f in engine.observe(t) if f.kind == "surge")
    assert found
    assert {(f.district, f.topic) for f in found} == {("110108", "water")}
    assert len({f.key for f in found}) == 1
    assert found[-1].onset_at == now and found[-1].level == "red"


def test_a_surge_found_in_the_long_window_says_so() -> None:
    """One water request an hour in 110105 as a rule, then 11 more from 8:05 to 9:45: never
    enough in one hour, enough in two; the title and evidence name the two-hour window."""
    engine = AlertEngine(AlertSettings(), UTC)
    usual = [("110105", "water"), ("110106", "water"), ("110105", "power"), ("110106", "power")]
    arrivals: list[tuple[float, str, str]] = []
    for day in range(15):
        for hour in range(8, 18 if day < 14 else 10):
            for k, (district, topic) in enumerate(usual):
                arrivals.append((MONDAY + day * 86400 + hour * H + k * 900, district, topic))
    now = MONDAY + 14 * 86400
    arrivals += [(now + 8 * H + 300 + i * 600, "110105", "water") for i in range(11)]
    found: list[Finding] = []
    for n, (at, district, topic) in enumerate(sorted(arrivals)):
        t = TicketFacts(n, at, f"138{n:08d}", f"{district}001001", topic, "停水", f"停水{n}")
        found.extend(f for f in engine.observe(t) if f.kind == "surge")
    assert found and {(f.district, f.topic) for f in found} == {("110105", "water")}
    assert "近120分钟" in found[0].title and found[0].evidence["window_minutes"] == 120
