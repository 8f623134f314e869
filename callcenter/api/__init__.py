"""HTTP API (aiohttp): errors are JSON with a stable error_id, mapped here at the edge."""
