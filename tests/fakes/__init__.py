"""Loopback fakes of AWS services that speak the real wire protocols (tests only).

- ``FakeBedrock``: Bedrock Runtime Converse / ConverseStream (event-stream framing).
- ``FakePolly``: Polly SynthesizeSpeech returning real OGG Vorbis audio.
- ``audio``: ``ogg_tone`` / ``is_ogg_vorbis`` helpers.

All servers bind 127.0.0.1 on a free port and are context managers.
"""

from .audio import duration_seconds, is_ogg_vorbis, ogg_tone, pcm_tone
from .bedrock_server import BedrockRequest, FakeBedrock, split_tokens
from .polly_server import FakePolly, PollyRequest

__all__ = [
    "BedrockRequest",
    "FakeBedrock",
    "FakePolly",
    "PollyRequest",
    "duration_seconds",
    "is_ogg_vorbis",
    "ogg_tone",
    "pcm_tone",
    "split_tokens",
]
