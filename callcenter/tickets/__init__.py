"""Tickets (工单): the pure core of request handling (GB/T 44190 6.2.3).

- `lifecycle`: the state machine (受理 → 派单 → 办理 → 答复 → 审核 → 办结 → 回访 → 评价),
  who may do what, and the append-only history.
- `calendar`: working days, holidays and make-up days (调休), deadlines and warnings (预警).
- `classifier`: proposes request type, topic and department from the knowledge base.
- `similarity`: finds a caller's open ticket that a new request repeats (并单).
- `settings`: loads and validates config/tickets.toml, knowledge.toml and departments.toml.

Everything except `settings` is pure: no I/O, no asyncio, time is an argument.
"""
