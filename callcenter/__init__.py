"""The callcenter service: wiring, drivers, API, storage."""
