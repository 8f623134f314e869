"""Compile the IVR menus (config/ivr.toml, read by the pure `ivr` package) into FreeSWITCH's
XML dialplan, so a menu runs inside the PBX and keeps working when the engine is down: the
same rules as callcenter/pbx/asterisk/ivr_dialplan.py (and `ivr.walk`, which simulates them).

Every node of every flow becomes a context `ivr-<flow>-<node>`, entered at extension `s`:
- menu: play_and_get_digits (prompts, up to max_digits keys, the node's timeout), then
  `key-<digits>`: an option (exact digits) or the operator digit goes on, adding its label to
  the path; no key (`key-`) or any other key shares one retry counter (cc_ivr_tries) and
  replays the menu after the timeout or invalid prompts; past `retries`, `on_exhausted`;
- route: sets the queue skill (or keeps the number's), adds the priority boost, records the
  path, plays its prompts, joins the engine's queue (join XML cc-join);
- hours: open or closed by weekday ranges, holidays and make-up days, by the XML dialplan's
  own time conditions in the flow's zone (its UTC offset when the dialplan is rendered, set
  on the channel as tod_tz_offset by the entry);
- announce: plays and moves on; hangup: plays and hangs up.
The path travels with the call in cc_ivr_path (the engine puts it on the ticket).
"""

from __future__ import annotations

from datetime import date, datetime
from xml.sax.saxutils import escape, quoteattr

from ivr.model import (
    AnnounceNode,
    Flow,
    HangupNode,
    HoursNode,
    IvrConfig,
    MenuNode,
    Node,
    RouteNode,
    Schedule,
    TimeRange,
)


def context_name(flow: Flow, node_id: str) -> str:
    return f"ivr-{flow.id}-{node_id}"


def utc_offset_hours(flow: Flow) -> int:
    """The flow's zone as FreeSWITCH's whole-hour tod_tz_offset (now: zones that change for
    summer time are off by an hour half the year; China's zones do not)."""
    offset = datetime.now(flow.tz).utcoffset()
    return int(offset.total_seconds() // 3600) if offset is not None else 0


def _files(prompts: tuple[str, ...]) -> str:
    paths = [f"${{cc_prompts}}/{p}.wav" for p in prompts]
    return paths[0] if len(paths) == 1 else "file_string://" + "!".join(paths)


def _action(app: str, data: str = "", tag: str = "action", inline: bool = False) -> str:
    extra = ' inline="true"' if inline else ""
    return f"<{tag} application={quoteattr(app)} data={quoteattr(data)}{extra}/>"


def _play(prompts: tuple[str, ...], tag: str = "action") -> list[str]:
    if not prompts:
        return []
    return [
        _action("set", "playback_timeout_sec=0", tag),
        _action("playback", _files(prompts), tag),
    ]


def _goto(flow: Flow, node_id: str, tag: str = "action") -> str:
    return _action("transfer", f"s XML {context_name(flow, node_id)}", tag)


def _extension(name: str, number: str, body: list[str]) -> list[str]:
    lines = [f"<extension name={quoteattr(name)}>"]
    lines.append(f'<condition field="destination_number" expression={quoteattr(number)}>')
    lines += body
    lines.append("</condition></extension>")
    return lines


def _menu(flow: Flow, node: MenuNode) -> list[str]:
    here = context_name(flow, node.id)
    prompt = _files(node.prompts) if node.prompts else "silence_stream://100"
    lines = _extension(
        "start",
        "^s$",
        [_action("set", "cc_ivr_tries=0"), _action("transfer", f"prompt XML {here}")],
    )
    lines += _extension(
        "prompt",
        "^prompt$",
        [
            _action("unset", "cc_ivr_key"),
            _action("set", "playback_timeout_sec=0"),
            _action(
                "play_and_get_digits",
                f"1 {node.max_digits} 1 {int(node.timeout * 1000)} # {prompt} "
                f"silence_stream://100 cc_ivr_key .+ 2000",
            ),
            _action("transfer", f"key-${{cc_ivr_key}} XML {here}"),
        ],
    )
    options = [(o.digits, o.target, o.label) for o in node.options]
    if node.operator and flow.operator and all(d != flow.operator_digit for d, _, _ in options):
        options.append((flow.operator_digit, flow.operator, ""))
    for digits, target, _ in options:
        path = f"{node.label or node.id}:{digits}"
        lines += _extension(
            f"key-{digits}",
            f"^key-{digits}$",
            [_action("set", f"cc_ivr_path=${{cc_ivr_path}}/{path}"), _goto(flow, target)],
        )
    for name, number, prompts in (
        ("no-key", "^key-$", node.timeout_prompts),
        ("invalid", "^key-.+$", node.invalid_prompts),
    ):
        lines += [
            f"<extension name={quoteattr(name)}>",
            f'<condition field="destination_number" expression={quoteattr(number)}/>',
            f'<condition field="${{cond(0${{cc_ivr_tries}} &gt;= {node.retries} ? yes : no)}}"'
            ' expression="^yes$">',
            _goto(flow, node.on_exhausted),
            _action("set", "cc_ivr_tries=${expr(0${cc_ivr_tries} + 1)}", "anti-action"),
            *_play(prompts, "anti-action"),
            _action("transfer", f"prompt XML {here}", "anti-action"),
            "</condition></extension>",
        ]
    return lines


def _route(node: RouteNode) -> list[str]:
    body: list[str] = []
    if node.skill:
        body.append(_action("set", f"cc_skill={node.skill}"))
    if node.priority:
        body.append(_action("set", f"cc_priority=${{expr(0${{cc_priority}} + {node.priority})}}"))
    if node.ivr_path:
        body.append(_action("set", f"cc_ivr_path={node.ivr_path}"))
    body += _play(node.prompts)
    body.append(_action("transfer", "join XML cc-join"))
    return _extension("route", "^s$", body)


def _minutes(r: TimeRange) -> str:
    """A range (start included, end excluded, minutes from midnight) as FreeSWITCH's
    minute-of-day, which counts from 1 and includes both ends."""
    return f"{r.start + 1}-{r.end}"


def _on(day: date) -> str:
    return f'year="{day.year}" mon="{day.month}" mday="{day.day}"'


def _hours(flow: Flow, node: HoursNode, schedule: Schedule) -> list[str]:
    open_, closed = _goto(flow, node.open), _goto(flow, node.closed)
    lines: list[str] = []
    n = 0

    def rule(times: str, target: str) -> None:
        nonlocal n
        n += 1
        when = [f"<condition {times}>"] if times else []
        lines.extend(
            [
                f'<extension name="rule-{n}">',
                '<condition field="destination_number" expression="^s$"' + ("/>" if when else ">"),
                *when,
                target,
                "</condition></extension>",
            ]
        )

    for day, hours in [(d, schedule.holiday_hours) for d in sorted(schedule.days.holidays)] + [
        (d, schedule.makeup_hours) for d in sorted(schedule.days.makeup_workdays)
    ]:
        for r in hours:
            rule(f'{_on(day)} minute-of-day="{_minutes(r)}"', open_)
        rule(_on(day), closed)
    for weekday, ranges in enumerate(schedule.week):  # Monday = 0; FreeSWITCH: Sunday = 1
        for r in ranges:
            rule(f'wday="{(weekday + 1) % 7 + 1}" minute-of-day="{_minutes(r)}"', open_)
    rule("", closed)
    return lines


def _node(flow: Flow, node: Node, config: IvrConfig) -> list[str]:
    if isinstance(node, MenuNode):
        return _menu(flow, node)
    if isinstance(node, RouteNode):
        return _route(node)
    if isinstance(node, HoursNode):
        schedule = flow.schedules.get(node.schedule) or config.schedules[node.schedule]
        return _hours(flow, node, schedule)
    if isinstance(node, AnnounceNode):
        return _extension("announce", "^s$", [*_play(node.prompts), _goto(flow, node.next)])
    assert isinstance(node, HangupNode)
    body = [_action("set", f"cc_where=ivr-{node.reason}"), *_play(node.prompts)]
    return _extension("hangup", "^s$", [*body, _action("hangup")])


def entry(config: IvrConfig, did: str) -> dict[str, object]:
    """How a menu DID enters its flow: the start node's context and the flow's UTC offset."""
    flow = config.flow_for(did)
    return {"context": context_name(flow, flow.start), "tz_offset": utc_offset_hours(flow)}


def compile_flows(config: IvrConfig, flow_ids: set[str]) -> str:
    """The contexts of the given flows (those some DID enters), as XML dialplan text."""
    out: list[str] = []
    for flow_id in sorted(flow_ids):
        flow = config.flows[flow_id]
        label = getattr(flow, "label", "") or flow.id
        out.append(f"<!-- flow {escape(flow.id)}: {escape(str(label)).replace('--', '- -')} -->")
        for node_id, node in flow.nodes.items():
            out.append(f"<context name={quoteattr(context_name(flow, node_id))}>")
            out += _node(flow, node, config)
            out.append("</context>")
    return "\n".join(out)
