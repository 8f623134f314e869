"""Telling others about a warning: a WarningRaised on the bus and a signed webhook POST.

The webhook body is JSON without personal data (ids, title, level, counts); it is signed like
the export feeds (`X-CC-Signature: sha256=<HMAC-SHA256 of the body>`, the secret from the
environment variable the config names) and retried with doubling pauses."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from callcenter.alerts.settings import Webhook
from callcenter.data.feeds import DeliveryFailed, backoff_delay, post, sign
from callcenter.errors import CallcenterError


class WebhookError(CallcenterError):
    error_id = "alerts.webhook"


def body_of(warning: Mapping[str, Any], evidence: Mapping[str, Any]) -> bytes:
    document = {
        "type": "warning",
        "warning": dict(warning),
        "evidence": {
            k: evidence[k]
            for k in ("count", "expected", "callers", "tickets", "place", "words", "series")
            if k in evidence
        },
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def deliver(
    hook: Webhook,
    body: bytes,
    environ: Mapping[str, str] | None = None,
    sender: Callable[[str, bytes, Mapping[str, str], float], int] = post,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST the body until a 2xx answer, at most `hook.attempts` times; returns the attempts
    used. WebhookError when the secret is unset or every attempt failed."""
    env = os.environ if environ is None else environ
    secret = env.get(hook.secret_env, "")
    if not secret:
        raise WebhookError(f"预警推送：环境变量 {hook.secret_env} 未设置（应存放签名密钥）")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-CC-Signature": sign(body, secret.encode("utf-8")),
    }
    last = ""
    for attempt in range(1, hook.attempts + 1):
        try:
            sender(hook.url, body, headers, hook.timeout)
            return attempt
        except DeliveryFailed as exc:
            last = str(exc)
            if attempt < hook.attempts:
                sleep(backoff_delay(attempt, hook.backoff, 60.0, random.random()))
    raise WebhookError(f"预警推送失败（{hook.attempts} 次）：{last}")
