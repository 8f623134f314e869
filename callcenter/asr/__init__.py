"""Speech recognition for call recordings and live audio (Vosk/Kaldi).

- `audio`: WAV reading, channel choice, band-limited resampling, level/silence helpers.
- `transcriber`: `Transcriber` (files -> `Transcript`), `StreamingSession` (live PCM).
- `worker`: `TranscriptionPool` (recognition in worker processes) and `BacklogRunner`
  (every pending `Job` from a `JobSource`, in order, with retries).
"""

from callcenter.asr.errors import AsrError
from callcenter.asr.transcriber import (
    Partial,
    Segment,
    StreamingSession,
    Transcriber,
    Transcript,
    Word,
)
from callcenter.asr.worker import BacklogRunner, Job, JobSource, TranscriptionPool

__all__ = [
    "AsrError",
    "BacklogRunner",
    "Job",
    "JobSource",
    "Partial",
    "Segment",
    "StreamingSession",
    "Transcriber",
    "Transcript",
    "TranscriptionPool",
    "Word",
]
