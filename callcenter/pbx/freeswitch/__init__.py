"""FreeSWITCH: the sandbox instance (sandbox.py) and an asyncio event-socket client (esl.py)."""
