"""The aiohttp application keys the API modules share: the database, the ticket settings, the
outbound settings, the attachments root, the field cipher and the configuration folder. They
live here, apart from any feature's handlers, so an API module imports only these."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from callcenter.data.crypto import FieldCipher
from callcenter.outbound.settings import OutboundSettings
from callcenter.paths import REPO
from callcenter.storage.database import Database
from callcenter.tickets.settings import TicketSettings

TICKET_DB: web.AppKey[Database] = web.AppKey("ticket_db", Database)
SETTINGS: web.AppKey[TicketSettings] = web.AppKey("ticket_settings", TicketSettings)
OUTBOUND: web.AppKey[OutboundSettings] = web.AppKey("outbound", OutboundSettings)
ATTACHMENTS: web.AppKey[Path] = web.AppKey("attachments", Path)
CIPHER: web.AppKey[FieldCipher] = web.AppKey("field_cipher", FieldCipher)
CONFIG_DIR: web.AppKey[Path] = web.AppKey("data_config_dir", Path)
# The configuration folder when the app names none (CONFIG_DIR unset): the repository's own.
SHIPPED_CONFIG = REPO / "config"
