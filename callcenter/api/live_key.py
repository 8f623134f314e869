"""The app key of the engine's live transcription: set by api/http, read by the API modules
that serve from it (knowledge base suggestions), which http itself mounts."""

from __future__ import annotations

from aiohttp import web

from callcenter.live import LiveTranscription

LIVE: web.AppKey[LiveTranscription] = web.AppKey("live", LiveTranscription)
