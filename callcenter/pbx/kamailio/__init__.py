"""The SIP proxy in front of several media nodes: Kamailio (dispatcher, registrar, usrloc)."""
