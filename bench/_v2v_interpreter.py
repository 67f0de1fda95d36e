"""``python -m bench._v2v_interpreter``: the real interpreter, telling when its WAV file starts.

Exactly ``python -m interpreter`` (same options, same settings, same pipeline, recognizer and
publisher), except that the ``--wav`` source prints ``wav-start <epoch ms>`` on stdout when it
yields its first frame. The file is then paced in real time against that moment, so the end of
speech of each utterance in it is known on the wall clock: ``bench.voice_to_voice`` needs it to
measure from the end of the person's speech. (The interpreter does not post speechEndedAt yet.)
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator

from interpreter.__main__ import build_parser
from interpreter.app import EXIT_USAGE, configure_logging, run
from interpreter.config import Settings
from interpreter.events import AudioFrame
from interpreter.sources import WavFileSource


class TimedWavSource(WavFileSource):
    async def frames(self) -> AsyncIterator[AudioFrame]:
        first = True
        async for frame in super().frames():
            if first:
                # The base class paces frame k at (its start + k × 20 ms); its start is this.
                print(f"wav-start {time.time() * 1000:.1f}", flush=True)
                first = False
            yield frame


def main() -> int:
    args = vars(build_parser().parse_args())
    settings = Settings(**args)
    if settings.wav is None or not settings.realtime:
        print("give --wav FILE, paced in real time", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    return asyncio.run(run(settings, source=TimedWavSource(settings.wav, realtime=True)))


if __name__ == "__main__":
    raise SystemExit(main())
