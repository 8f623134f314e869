"""The OpenAPI 3.1 description of the HTTP API (served at /api/openapi.json). A test checks
that every route the application registers is described here, so it cannot drift."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcenter.api.openapi_ops import ANY_OBJECT, operation, query_params
from callcenter.api.params import MAX_ID
from callcenter.tickets.schemas import MAX_PAGE

ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
CALL = {"name": "call_id", "in": "path", "required": True, "schema": {"type": "string"}}
AGENT = {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}


def _p(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]


OFFICE = "supervisor, auditor, admin"
PAGE = (("limit", "integer"), ("offset", "integer"))
DATA_PATHS: dict[str, Any] = {
    "/api/data/catalog": {
        "get": {
            **operation("The data resource catalogue (JSON, or ?format=xlsx)", roles=OFFICE),
            "parameters": query_params(("format", "string")),
        }
    },
    "/api/data/quality/runs": {
        "get": {
            **operation("Data quality runs, newest first", roles=OFFICE),
            "parameters": query_params(PAGE[0]),
        },
        "post": {
            **operation(
                "Run the quality rules now (mode full or incremental)",
                roles="supervisor",
                ok=201,
                body=ANY_OBJECT,
                body_required=False,
            ),
        },
    },
    "/api/data/quality/runs/{id}": {
        "get": {
            **operation("A quality run's report: scores, problems, open issues", roles=OFFICE),
            "parameters": [ID, *query_params(("limit", "integer"), ("format", "string"))],
        }
    },
    "/api/data/corrections": {
        "post": {
            **operation(
                "Correct one field of a ticket (audited, in its history)", ok=201, body=ANY_OBJECT
            ),
        }
    },
    "/api/data/imports": {
        "get": {**operation("Imports of reference data, newest first", roles=OFFICE)},
    },
    "/api/data/imports/{dataset}": {
        "post": {
            **operation("Import a CSV or XLSX file (all or nothing)", roles="admin", ok=201),
            "parameters": [
                *_p("dataset"),
                *query_params(("name", "string"), ("dry_run", "string")),
            ],
        }
    },
    "/api/data/profiles": {
        "get": {
            **operation("Fused citizen and enterprise profiles by a key", roles=OFFICE),
            "parameters": query_params(
                ("phone", "string"),
                ("id_card", "string"),
                ("enterprise_code", "string"),
                ("name", "string"),
            ),
        }
    },
    "/api/data/profiles/{id}": {
        "get": {
            **operation("A profile and its records, masked by role", roles=OFFICE),
            "parameters": [ID, *query_params(*PAGE)],
        }
    },
    "/api/data/topics/{library}": {
        "get": {
            **operation("A topic library's terms (function, domain, category)"),
            "parameters": _p("library"),
        }
    },
    "/api/data/topics/{library}/{term}": {
        "get": {
            **operation("The tickets filed under one term"),
            "parameters": [*_p("library", "term"), *query_params(*PAGE)],
        }
    },
    "/api/data/retention/runs": {
        "get": {**operation("Retention runs and what they did", roles=OFFICE)}
    },
    "/api/data/feeds": {"get": {**operation("Export feeds: acknowledged position", roles=OFFICE)}},
}


def _applications() -> dict[str, Any]:
    """The data applications describe their own routes (each module's OPENAPI)."""
    from callcenter.api import alerts, analytics, inspection, knowledge_base, reports, staffing

    paths: dict[str, Any] = {}
    for module in (reports, alerts, inspection, knowledge_base, staffing, analytics):
        paths.update(module.OPENAPI)
    return paths


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "callcenter — 12345 hotline engine",
        "version": "0.1.0",
        "description": "Queue, agents, recordings and tickets (工单). Every /api call needs "
        "`Authorization: Bearer <token>`; errors are JSON with a stable `error_id`.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error_id", "message"],
                "properties": {"error_id": {"type": "string"}, "message": {"type": "string"}},
            },
            "Intake": {
                "type": "object",
                "properties": {
                    "channel": {"enum": ["phone", "web", "app", "miniprogram", "wechat", "sms"]},
                    "content": {"type": "string", "maxLength": 4000},
                    "title": {"type": "string", "maxLength": 200},
                    "caller_number": {"type": "string"},
                    "caller_name": {"type": "string"},
                    "address": {"type": "string"},
                    "call_id": {"type": "string"},
                    "did": {"type": "string"},
                    "request_type": {"enum": ["咨询", "求助", "投诉", "举报", "意见建议"]},
                    "department": {"type": "string"},
                    "urgent": {"type": "boolean"},
                    "id_card": {"type": "string", "maxLength": 32},
                    "enterprise_code": {"type": "string", "maxLength": 18},
                    "enterprise_name": {"type": "string", "maxLength": 128},
                    "grid": {"type": "string", "maxLength": 32},
                },
            },
            "Transition": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {
                        "enum": [
                            "dispatch",
                            "accept_handling",
                            "return",
                            "redispatch",
                            "reply",
                            "reject_reply",
                            "approve",
                            "close",
                            "revisit",
                            "evaluate",
                            "supervise",
                            "reopen",
                        ]
                    },
                    "department": {"type": "string"},
                    "reason": {"type": "string"},
                    "text": {"type": "string"},
                    "note": {"type": "string"},
                    "outcome": {"enum": ["reached", "unreachable", "declined"]},
                    "rating": {"enum": ["满意", "基本满意", "不满意"]},
                    "expected_version": {"type": "integer"},
                },
            },
            "Assign": {
                "type": "object",
                "required": ["department"],
                "properties": {"department": {"type": "string"}, "note": {"type": "string"}},
            },
            "Confirm": {
                "type": "object",
                "properties": {
                    "request_type": {"type": "string"},
                    "topic": {"type": "string"},
                    "department": {"type": "string"},
                },
            },
            "Comment": {
                "type": "object",
                "required": ["text"],
                "properties": {"text": {"type": "string"}},
            },
            "AgentAction": {
                "type": "object",
                "properties": {"reason": {"type": "string"}, "ready": {"type": "boolean"}},
            },
            "Priority": {
                "type": "object",
                "required": ["priority"],
                "properties": {"priority": {"type": "integer", "minimum": -100, "maximum": 100}},
            },
            "Emergency": {
                "type": "object",
                "required": ["line"],
                "properties": {
                    "line": {"enum": ["110", "119", "120", "122"]},
                    "mode": {"enum": ["blind", "conference"]},
                },
            },
            "Transfer": {
                "type": "object",
                "required": ["skill"],
                "properties": {"skill": {"type": "string"}, "agent": {"type": "string"}},
            },
            "Sms": {
                "type": "object",
                "required": ["from", "text"],
                "properties": {
                    "from": {"type": "string"},
                    "text": {"type": "string"},
                    "id": {"type": "string"},
                },
            },
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/health": {"get": {**operation("PBX links up"), "security": []}},
        "/health/live": {"get": {**operation("Liveness: the process answers"), "security": []}},
        "/health/ready": {
            "get": {
                **operation(
                    "Readiness: engine, every PBX link, the database; `reasons` says why a "
                    "PBX link is down (e.g. AMI authentication failed)"
                ),
                "security": [],
            }
        },
        "/metrics": {
            "get": {**operation("Prometheus exposition (aggregates, no numbers)"), "security": []}
        },
        "/api/openapi.json": {"get": operation("This description")},
        "/api/queue": {"get": operation("Waiting callers in queue order (numbers masked)")},
        "/api/agents": {"get": operation("Agents with status and state")},
        "/api/stats": {"get": operation("Live queue statistics")},
        "/api/agents/{agent_id}/{action}": {
            "post": {
                **operation("login / logout / pause / resume / ready", body="AgentAction"),
                "parameters": [
                    AGENT,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["login", "logout", "pause", "resume", "ready"]},
                    },
                ],
            }
        },
        "/api/agents/{agent_id}/phone": {
            "get": {
                **operation(
                    "The agent's browser phone account (ws_url, sip_uri, password) for the "
                    "workspace's WebRTC phone; audited",
                    roles="agent (its own id only)",
                ),
                "parameters": [AGENT],
            }
        },
        "/api/calls/{call_id}/priority": {
            "post": {
                **operation(
                    "Change a waiting caller's priority", roles="supervisor", body="Priority"
                ),
                "parameters": [CALL],
            }
        },
        "/api/calls/{call_id}/live-transcript": {
            "get": {
                **operation(
                    "Live transcript so far: partials and final segments per speaker; every "
                    "read is on record in the data access log (503 without the database)",
                    roles="agent (a call they are or were on), supervisor",
                ),
                "parameters": [CALL],
            }
        },
        "/api/calls/{call_id}/explain": {
            "get": {
                **operation(
                    "A call's story from the decision log and its record (number masked): "
                    "arrival and priority sources, each offer with the candidates and why that "
                    "agent, each time it could not be offered and why, cancels, requeues, "
                    "widening, connect, leave; and why it waited while an agent was free",
                    roles="supervisor",
                ),
                "parameters": [CALL],
            }
        },
        "/api/calls/{call_id}/emergency": {
            "post": {
                **operation(
                    "One-key transfer to 110/119/120/122, blind or three-way conference",
                    roles="agent (own call), supervisor",
                    ok=202,
                    body="Emergency",
                ),
                "parameters": [CALL],
            }
        },
        "/api/calls/{call_id}/transfer": {
            "post": {
                **operation(
                    "转专席: blind transfer of the caller to a skill's queue (to one idle agent "
                    "of it first when `agent` is given); it keeps its priority and its place "
                    "by original arrival; the agent's leg ends and the agent goes to wrap-up",
                    roles="agent (own call), supervisor",
                    ok=202,
                    body="Transfer",
                ),
                "parameters": [CALL],
            }
        },
        "/api/live": {
            "get": operation(
                "Websocket: wallboard snapshots pushed on every change, live transcript lines "
                "(token may be ?access_token=)",
                roles="agent, supervisor",
            )
        },
        "/api/center": {"get": operation("The center's name and time zone", roles="any")},
        "/api/wallboard/series": {
            "get": {
                **operation(
                    "Today's 15-minute slots of one skill (?skill=, all when absent): calls, "
                    "answered within 15 s, total wait of the answered",
                    roles="supervisor",
                ),
                "parameters": [{"name": "skill", "in": "query", "schema": {"type": "string"}}],
            }
        },
        "/api/calls/{call_id}": {
            "get": {
                **operation(
                    "A call's origin and the caller's earlier tickets (masked)",
                    roles="agent (own), supervisor",
                ),
                "parameters": [CALL],
            }
        },
        "/api/calls/{call_id}/spy": {
            "post": {
                **operation(
                    "Listen in, whisper or barge from a supervisor's phone (audited)",
                    ok=202,
                    roles="supervisor",
                ),
                "parameters": [CALL],
            }
        },
        "/api/audit": {"get": operation("Audited actions, newest first", roles="supervisor")},
        "/api/callbacks": {
            "get": {
                **operation(
                    "Queued callbacks (keep your place) and missed-call callbacks (漏接回拨) "
                    "with every attempt; ?state= and ?kind=queued|missed filter",
                    roles="agent, supervisor",
                ),
            }
        },
        "/api/recordings/{call_id}": {
            "get": {
                **operation("Recording metadata (audited)", roles="agent (own), supervisor"),
                "parameters": [CALL],
            }
        },
        "/api/recordings/{call_id}/audio": {
            "get": {
                **operation(
                    "Recording audio, leg=mixed|caller|agent (audited)",
                    roles="agent (own), supervisor",
                ),
                "parameters": [
                    CALL,
                    {
                        "name": "leg",
                        "in": "query",
                        "schema": {"enum": ["mixed", "caller", "agent"]},
                    },
                ],
            }
        },
        "/api/recordings/{call_id}/access": {
            "get": {
                **operation("Who accessed a recording", roles="supervisor"),
                "parameters": [CALL],
            }
        },
        "/api/tickets": {
            "post": operation(
                "Create a ticket (linked to an open one when it repeats)",
                roles="agent, supervisor",
                ok=201,
                body="Intake",
            ),
            "get": {
                **operation(
                    "List tickets: filters, paging, full text (q)",
                    roles="agent, supervisor, department (own only)",
                ),
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": t}}
                    for n, t in (
                        ("status", "string"),
                        ("department", "string"),
                        ("request_type", "string"),
                        ("channel", "string"),
                        ("caller_number", "string"),
                        ("did", "string"),
                        ("from", "number"),
                        ("to", "number"),
                        ("q", "string"),
                    )
                ]
                + [
                    {
                        "name": name,
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": top},
                    }
                    for name, top in (("page", MAX_PAGE), ("per_page", 200))
                ],
            },
        },
        "/api/tickets/vocabulary": {
            "get": operation("Request types, topics and departments with their display names")
        },
        "/api/tickets/{id}": {
            "get": {
                **operation("A ticket with history, comments, allowed actions"),
                "parameters": [ID],
            }
        },
        "/api/tickets/{id}/transition": {
            "post": {**operation("Apply a lifecycle action", body="Transition"), "parameters": [ID]}
        },
        "/api/tickets/{id}/assign": {
            "post": {
                **operation("Dispatch (or re-dispatch) to a department", body="Assign"),
                "parameters": [ID],
            }
        },
        "/api/tickets/{id}/confirm": {
            "post": {
                **operation(
                    "Confirm or edit the classifier's proposal",
                    roles="agent, supervisor",
                    body="Confirm",
                ),
                "parameters": [ID],
            }
        },
        "/api/tickets/{id}/comments": {
            "post": {**operation("Comment", ok=201, body="Comment"), "parameters": [ID]}
        },
        "/api/tickets/{id}/attachments": {
            "post": {
                **operation(
                    "Attach a file (raw body, ?name=): stored whole up to tickets.toml "
                    "[attachments] max_bytes and the user's quota_bytes_per_user, else 413 "
                    "and nothing stored",
                    ok=201,
                ),
                "parameters": [
                    ID,
                    {"name": "name", "in": "query", "required": True, "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}
                },
            }
        },
        "/api/tickets/{id}/id_card": {
            "get": {
                **operation(
                    "The full ID-card number for a stated purpose (logged as decrypt)",
                    roles="auditor, admin",
                ),
                "parameters": [
                    ID,
                    {
                        "name": "purpose",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 500},
                    },
                ],
            }
        },
        "/api/data/access-log": {
            "get": {
                **operation(
                    "The sensitive-data access log, newest first", roles="supervisor, auditor"
                ),
                "parameters": [
                    {"name": n, "in": "query", "schema": {"type": t}}
                    for n, t in (
                        ("actor", "string"),
                        ("action", "string"),
                        ("dataset", "string"),
                        ("since", "number"),
                        ("until", "number"),
                        ("limit", "integer"),
                        ("offset", "integer"),
                    )
                ],
            }
        },
        **DATA_PATHS,
        **_applications(),
        "/api/intake/{channel}": {
            "post": {
                **operation(
                    "Form intake from web, app, mini-program, public account",
                    roles="channel backend token (agent)",
                    ok=201,
                    body="Intake",
                ),
                "parameters": [
                    {
                        "name": "channel",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["web", "app", "miniprogram", "wechat"]},
                    }
                ],
            }
        },
        "/hooks/sms": {
            "post": {
                **operation("SMS gateway webhook, HMAC-SHA256 in X-Signature", ok=201, body="Sms"),
                "security": [],
            }
        },
    },
}


async def handler(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
