"""Tickets (工单): request handling from intake to evaluation (GB/T 44190 6.2.3), in one
package.

The pure core (no I/O, no asyncio, time is an argument):
- `model`: statuses, roles, the ticket state and its history entries.
- `actions`: what a user may ask of a ticket (dispatch, reply, close, ...).
- `lifecycle`: the state machine (受理 → 派单 → 办理 → 答复 → 审核 → 办结 → 回访 → 评价),
  who may do what, and the append-only history.
- `calendar`: working days, holidays and make-up days (调休), deadlines and warnings (预警).
- `classifier`: proposes request type, topic and department from the knowledge base.
- `similarity`: finds a caller's open ticket that a new request repeats (并单).
- `knowledge`, `text`: the knowledge base's shape and the word segmentation.
- `errors`: the refusals, each with a stable `error_id`.

Around it:
- `settings`: loads and validates config/tickets.toml, knowledge.toml and departments.toml.
- `service`: the workflow on the database (intake with repeat linking, transitions, history,
  comments, search), inside the caller's transaction.
- `calls`: every answered call becomes a draft ticket; its transcript fills it in.
- `schemas`: the HTTP request bodies and the JSON a ticket is shown as (redacted by role).
- `http`: the HTTP handlers and their routes; `sms`: the SMS gateway's webhook (another intake
  channel).
"""
