"""The one exception type of the ASR package, with a stable machine-readable `error_id`."""

from __future__ import annotations

from callcenter.errors import CallcenterError


class AsrError(CallcenterError):
    """A speech-recognition failure the caller can act on.

    `error_id` is stable (safe to store, match on and show in APIs); the message is for humans
    and names the file or directory involved.

    Known ids: ``asr.model_missing``, ``asr.model_invalid``, ``asr.audio_unreadable``,
    ``asr.audio_format``, ``asr.stream_closed``, ``asr.job_failed``.
    """

    def __init__(self, message: str, error_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id

    def __reduce__(self) -> tuple[type[AsrError], tuple[str, str]]:
        # Keeps the error intact when it crosses a process boundary (ProcessPoolExecutor).
        return (AsrError, (self.message, self.error_id))

    def __str__(self) -> str:
        return f"[{self.error_id}] {self.message}"
