"""Pure routing core: no I/O, no asyncio; time is passed in."""
