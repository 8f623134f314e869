"""Compile the IVR menus (config/ivr.toml, read by the pure `ivr` package) into Asterisk
dialplan, so a menu runs inside the PBX and keeps working when the engine is down.

Every node of every flow becomes a context `ivr-<flow>-<node>`:
- menu: Background(prompts) + WaitExten(timeout); one extension per option (exact digits),
  the operator digit, `i` (invalid) and `t` (timeout) sharing one retry counter; when retries
  are exhausted the call goes to the node's `on_exhausted` target;
- route: sets the queue skill (or keeps the number's), adds the priority boost, records the
  path, plays its prompts, joins the engine's queue (cc-join);
- hours: open or closed by weekday ranges, holidays and make-up days, in the flow's zone;
- announce: plays and moves on; hangup: plays and hangs up.
The path a caller took travels with the call in CC_IVR_PATH (the engine puts it on the ticket).
`ivr.walk` simulates exactly these rules without a PBX (`callcenter ivr test`).
"""

from __future__ import annotations

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


def _play(prompts: tuple[str, ...]) -> str:
    return "&".join(f"${{CC_PROMPTS}}/{p}" for p in prompts)


def _goto(flow: Flow, node_id: str) -> str:
    return f"Goto({context_name(flow, node_id)},s,1)"


def _menu(flow: Flow, node: MenuNode) -> list[str]:
    lines = [
        "exten => s,1,Set(CC_IVR_TRIES=0)",
        f" same => n(prompt),Background({_play(node.prompts)})"
        if node.prompts
        else " same => n(prompt),NoOp(no prompt)",
        f" same => n,WaitExten({node.timeout:g})",
    ]
    options = [(o.digits, o.target) for o in node.options]
    if node.operator and flow.operator and all(d != flow.operator_digit for d, _ in options):
        options.append((flow.operator_digit, flow.operator))
    for digits, target in options:
        label = f"{node.label or node.id}:{digits}"
        lines += [
            f"exten => {digits},1,Set(__CC_IVR_PATH=${{CC_IVR_PATH}}/{label})",
            f" same => n,{_goto(flow, target)}",
        ]
    for exten, prompts in (("i", node.invalid_prompts), ("t", node.timeout_prompts)):
        lines += [
            f"exten => {exten},1,Set(CC_IVR_TRIES=$[${{CC_IVR_TRIES}} + 1])",
            f" same => n,GotoIf($[${{CC_IVR_TRIES}} > {node.retries}]?exhausted)",
        ]
        if prompts:
            lines.append(f" same => n,Playback({_play(prompts)})")
        lines += [
            " same => n,Goto(s,prompt)",
            f" same => n(exhausted),{_goto(flow, node.on_exhausted)}",
        ]
    return lines


def _route(node: RouteNode) -> list[str]:
    lines = ["exten => s,1,NoOp(route)"]
    if node.skill:
        lines.append(f" same => n,Set(__CC_SKILL={node.skill})")
    if node.priority:
        lines.append(f" same => n,Set(__CC_PRIORITY=$[${{CC_PRIORITY}} + {node.priority}])")
    if node.ivr_path:
        lines.append(f" same => n,Set(__CC_IVR_PATH={node.ivr_path})")
    if node.prompts:
        lines.append(f" same => n,Playback({_play(node.prompts)})")
    lines.append(" same => n,Goto(cc-join,s,1)")
    return lines


def _ranges_test(ranges: tuple[TimeRange, ...]) -> str:
    return " | ".join(f"(${{HM}} >= {r.start} & ${{HM}} < {r.end})" for r in ranges) or "0"


def _hours(flow: Flow, node: HoursNode, schedule: Schedule) -> list[str]:
    tz = getattr(flow.tz, "key", "UTC")
    lines = [
        f"exten => s,1,Set(DAY=${{STRFTIME(${{EPOCH}},{tz},%Y-%m-%d)}})",
        f" same => n,Set(WD=${{STRFTIME(${{EPOCH}},{tz},%u)}})",
        f" same => n,Set(HM=$[${{STRFTIME(${{EPOCH}},{tz},%-H)}} * 60 + "
        f"${{STRFTIME(${{EPOCH}},{tz},%-M)}}])",
    ]
    for day in sorted(schedule.days.holidays):
        lines.append(
            f' same => n,GotoIf($["${{DAY}}" = "{day.isoformat()}"]?'
            f"{'holiday_' + day.strftime('%Y%m%d')})"
        )
    for day in sorted(schedule.days.makeup_workdays):
        lines.append(
            f' same => n,GotoIf($["${{DAY}}" = "{day.isoformat()}"]?'
            f"{'makeup_' + day.strftime('%Y%m%d')})"
        )
    for weekday, ranges in enumerate(schedule.week, 1):
        if ranges:
            lines.append(
                f" same => n,GotoIf($[${{WD}} = {weekday} & ({_ranges_test(ranges)})]?open)"
            )
    lines += [
        f" same => n,{_goto(flow, node.closed)}",
        f" same => n(open),{_goto(flow, node.open)}",
    ]
    for day in sorted(schedule.days.holidays):
        test = _ranges_test(schedule.holiday_hours)
        lines += [
            f" same => n(holiday_{day.strftime('%Y%m%d')}),GotoIf($[{test}]?open)",
            f" same => n,{_goto(flow, node.closed)}",
        ]
    for day in sorted(schedule.days.makeup_workdays):
        test = _ranges_test(schedule.makeup_hours)
        lines += [
            f" same => n(makeup_{day.strftime('%Y%m%d')}),GotoIf($[{test}]?open)",
            f" same => n,{_goto(flow, node.closed)}",
        ]
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
        return [
            f"exten => s,1,Playback({_play(node.prompts)})",
            f" same => n,{_goto(flow, node.next)}",
        ]
    assert isinstance(node, HangupNode)
    lines = ["exten => s,1,NoOp(ivr hangup)"]
    if node.prompts:
        lines.append(f" same => n,Playback({_play(node.prompts)})")
    lines.append(
        f" same => n,UserEvent(CCIvrHangup,CallId: ${{CHANNEL(linkedid)}},Reason: {node.reason})"
    )
    lines.append(" same => n,Hangup()")
    return lines


def entry_context(config: IvrConfig, did: str) -> str:
    """The context a menu DID enters (its flow's start node)."""
    flow = config.flow_for(did)
    return context_name(flow, flow.start)


def compile_flows(config: IvrConfig, flow_ids: set[str]) -> str:
    """The contexts of the given flows (those some DID enters), as extensions.conf text."""
    out: list[str] = []
    for flow_id in sorted(flow_ids):
        flow = config.flows[flow_id]
        for node_id, node in flow.nodes.items():
            out.append(f"[{context_name(flow, node_id)}]")
            out += _node(flow, node, config)
            out.append("")
    return "\n".join(out)
