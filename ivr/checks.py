"""The checks of IVR menus that span nodes and tables, over typed values (no TOML, no I/O).

The file's shape (tables, keys, types, ranges, digits 0-9 * #) is its model's, in
callcenter/ivr_file.py; what is left needs more than one value: node targets that exist (and
are a route or hangup where the caller must end up), known skills and schedules, prompts
defined in [prompts], duplicate digits (including an option on the flow's operator digit),
digits longer than `max_digits` or outside `allowed`, loops that need no caller input,
entries that name a flow, and the default entry. Warnings (the load still succeeds): nodes no
path from the flow's start reaches, prompts defined but never played.

`check_menus` returns (errors, warnings) as `Issue`s with the dotted keys of ivr.toml, e.g.
`flow.main_menu.node.main.options[2].digits`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ivr.announce import SYSTEM_PROMPTS
from ivr.model import (
    DEFAULT_ENTRY,
    TERMINAL,
    AnnounceNode,
    Flow,
    HoursNode,
    Issue,
    MenuNode,
    RouteNode,
    prompt_refs,
    targets,
)


class _Found:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []

    def error(self, key: str, message: str) -> None:
        self.errors.append(Issue(self.file, key, message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(Issue(self.file, key, message))


def check_menus(
    file: str,
    prompts: Collection[str],
    schedules: Collection[str],
    flows: Mapping[str, Flow | None],
    entries: Mapping[str, str | None],
    skills: Collection[str],
    broken: Mapping[str, Collection[str]] | None = None,
) -> tuple[list[Issue], list[Issue]]:
    """The mistakes and warnings of menus whose shape is checked. `prompts`, `schedules`: the
    ids the file defines; `flows`: every flow it defines, None where its shape is wrong (its
    mistakes are reported already; entries may still name it); `entries`: DID or "default"
    -> flow id, None where the entry is wrong (reported); `broken`: per flow, the nodes
    whose shape is wrong (references to them are not mistakes) - a flow listed there, even
    with no node, gets no loop or reachability check."""
    found = _Found(file)
    broken = broken or {}
    if not flows:
        found.error("flow", "at least one flow is required ([flow.NAME])")
    for flow_id, flow in flows.items():
        if flow is not None:
            _flow(found, flow, prompts, schedules, skills, broken.get(flow_id))
    for did, named in entries.items():
        key = f"entries.{did}" if did.isalnum() else f'entries."{did}"'
        if named is not None and named not in flows:
            found.error(key, f"unknown flow {named!r} (flows: {', '.join(flows) or 'none'})")
    if DEFAULT_ENTRY not in entries:
        found.error(f"entries.{DEFAULT_ENTRY}", "is required: the flow of DIDs not listed")

    used = {p for f in flows.values() if f for n in f.nodes.values() for _, p in prompt_refs(n)}
    used.update(SYSTEM_PROMPTS)  # played by the engine: queue announcements, callback, survey
    for pid in prompts:
        if pid not in used:
            found.warn(f"prompts.{pid}", "defined but never played")
    return found.errors, found.warnings


def _flow(
    found: _Found,
    flow: Flow,
    prompts: Collection[str],
    schedules: Collection[str],
    skills: Collection[str],
    broken: Collection[str] | None,
) -> None:
    key = f"flow.{flow.id}"
    errors_before = len(found.errors)
    nodes = flow.nodes
    if not nodes and not broken:
        found.error(f"{key}.node", f"a flow needs nodes ([{key}.node.NAME])")

    def exists(field_key: str, target: str, terminal: bool = False) -> None:
        if target not in nodes:
            if broken and target in broken:
                return  # the node itself is broken and already reported
            known = ", ".join(nodes) or "none"
            found.error(field_key, f"unknown node {target!r} (nodes of {flow.id}: {known})")
        elif terminal and not isinstance(nodes[target], TERMINAL):
            found.error(field_key, f"must be a route or hangup node, {target!r} is not")

    if flow.start:
        exists(f"{key}.start", flow.start)
    if flow.operator:
        exists(f"{key}.operator", flow.operator, terminal=True)
    for node_id, node in nodes.items():
        nkey = f"{key}.node.{node_id}"
        for field_name, target in targets(node):
            if field_name != "on_exhausted":
                exists(f"{nkey}.{field_name}", target)
            elif target:
                exists(f"{nkey}.on_exhausted", target, terminal=True)
            else:
                found.error(
                    f"{nkey}.on_exhausted",
                    f"is required (here or as {key}.on_exhausted): a route or hangup node",
                )
        for field_name, pid in prompt_refs(node):
            if pid not in prompts:
                found.error(f"{nkey}.{field_name}", f"prompt {pid!r} is not defined in [prompts]")
        if isinstance(node, RouteNode) and node.skill and node.skill not in skills:
            listed = ", ".join(sorted(skills))
            found.error(f"{nkey}.skill", f"unknown skill {node.skill!r} (known: {listed})")
        if isinstance(node, HoursNode) and node.schedule not in schedules:
            known = ", ".join(schedules) or "none"
            found.error(f"{nkey}.schedule", f"unknown schedule {node.schedule!r} (known: {known})")
        if isinstance(node, MenuNode):
            _digits(found, key, nkey, node, flow)

    if len(found.errors) == errors_before and broken is None:
        _graph(found, key, flow)


def _digits(found: _Found, key: str, nkey: str, node: MenuNode, flow: Flow) -> None:
    """A menu's options: each digit string once, within max_digits and `allowed`, and not
    the flow's operator digit where the operator digit works."""
    seen: dict[str, int] = {}
    for i, o in enumerate(node.options):
        okey = f"{nkey}.options[{i}].digits"
        if o.digits in seen:
            found.error(okey, f"duplicate digits {o.digits!r} (also options[{seen[o.digits]}])")
            continue
        seen[o.digits] = i
        if len(o.digits) > node.max_digits:
            found.error(okey, f"{o.digits!r} is longer than max_digits ({node.max_digits})")
        if node.allowed and any(d not in node.allowed for d in o.digits):
            found.error(okey, f"{o.digits!r} uses digits not in allowed ({node.allowed!r})")
    if node.operator and flow.operator:
        for i, o in enumerate(node.options):
            if o.digits == flow.operator_digit:
                found.error(
                    f"{nkey}.options[{i}].digits",
                    f"duplicate digit {o.digits!r}: it is the flow's operator digit "
                    f"({key}.operator_digit); set operator = false on this node to reuse it",
                )


def _graph(found: _Found, key: str, flow: Flow) -> None:
    # Cycles without input: edges followed with no caller input (announce.next, hours.open,
    # hours.closed). Menu edges need a digit; on_exhausted and operator end at a route or
    # hangup, so they cannot close a loop.
    silent: dict[str, list[str]] = {}
    for node_id, node in flow.nodes.items():
        if isinstance(node, AnnounceNode | HoursNode):
            silent[node_id] = [t for _, t in targets(node)]
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    reported: set[frozenset[str]] = set()

    def visit(n: str, stack: list[str]) -> None:
        state[n] = 1
        stack.append(n)
        for nxt in silent.get(n, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    loop = " -> ".join([*cycle, nxt])
                    found.error(f"{key}.node.{nxt}", f"loop without caller input: {loop}")
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[n] = 2

    for n in silent:
        if n not in state:
            visit(n, [])

    reachable: set[str] = set()
    todo = [flow.start]
    while todo:
        n = todo.pop()
        if n in reachable or n not in flow.nodes:
            continue
        reachable.add(n)
        todo.extend(t for _, t in targets(flow.nodes[n], flow))
    for node_id in flow.nodes:
        if node_id not in reachable:
            found.warn(f"{key}.node.{node_id}", f"unreachable from {key}.start ({flow.start!r})")
