"""Wires settings to source, gate, recognizer, publisher and view; maps failures to exit codes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from voicebot.contract.endpointing import EndOfTurnRule

from .config import Settings
from .outbox import DurableOutbox, OutboxError, user_key
from .pipeline import TranscriptionPipeline
from .publisher import ApiAuthError, ApiUnavailableError, TranscriptPublisher
from .recognizers import Recognizer, RecognizerError, build_recognizer
from .sources import AudioSource, MicrophoneSource, SourceError, WavFileSource
from .tokens import DeviceCredentials
from .vad import VoiceGate, WebRtcSpeechClassifier
from .view import TerminalView

log = logging.getLogger("interpreter")

EXIT_OK = 0
# A transcript could not be delivered before the drain timeout (or was set aside after repeated
# API errors), or a setup error.
EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad or missing settings (argparse uses 2 as well)
EXIT_AUTH = 3  # the API refused the device token and would not renew it
EXIT_API_UNREACHABLE = 4  # the API was not reachable at start


def build_source(settings: Settings) -> AudioSource:
    if settings.wav is not None:
        return WavFileSource(settings.wav, realtime=settings.realtime)
    return MicrophoneSource(settings.device)


def build_gate(settings: Settings) -> VoiceGate:
    rule = None
    if settings.adaptive_end_of_turn:
        rule = EndOfTurnRule(settings.end_of_turn(), settings.language)
    return VoiceGate(
        WebRtcSpeechClassifier(settings.vad_aggressiveness),
        preroll_ms=settings.preroll_ms,
        hangover_ms=settings.hangover_ms,
        max_utterance_ms=int(settings.max_utterance_s * 1000),
        end_of_turn=rule,
    )


async def run(
    settings: Settings,
    *,
    recognizer: Recognizer | None = None,
    source: AudioSource | None = None,
    publisher: TranscriptPublisher | None = None,
) -> int:
    """Runs until the source ends (a file) or the process is stopped (a microphone)."""
    if not settings.api_url or settings.device_token is None:
        log.error(
            "Set the API URL and device token: --api and --token, "
            "or VOICEBOT_API_URL and VOICEBOT_DEVICE_TOKEN."
        )
        return EXIT_USAGE
    outbox: DurableOutbox | None = None
    if publisher is None:
        token = settings.device_token.get_secret_value()
        try:
            outbox = DurableOutbox(settings.resolved_outbox_path(), user_key(token))
        except OutboxError as exc:
            log.error("%s", exc)
            return EXIT_FAILURE
        credentials = DeviceCredentials(token, saved=outbox.saved_token(), save=outbox.save_token)
        publisher = TranscriptPublisher(
            settings.api_url,
            credentials,
            max_pending=settings.queue_size,
            max_attempts=settings.max_attempts,
            outbox=outbox,
        )
    try:
        return await _run(settings, publisher, recognizer, source)
    finally:
        if outbox is not None:
            outbox.close()


async def _run(
    settings: Settings,
    publisher: TranscriptPublisher,
    recognizer: Recognizer | None,
    source: AudioSource | None,
) -> int:
    try:
        await publisher.check_reachable()
        if recognizer is None:
            # Loading the Vosk model takes seconds; keep the loop free meanwhile.
            recognizer = await asyncio.to_thread(build_recognizer, settings)
        source = source or build_source(settings)
    except ApiUnavailableError as exc:
        log.error("%s", exc)
        return EXIT_API_UNREACHABLE
    except (RecognizerError, SourceError) as exc:
        log.error("%s", exc)
        return EXIT_FAILURE

    view = None if settings.quiet else TerminalView()
    pipeline = TranscriptionPipeline(
        source,
        build_gate(settings),
        recognizer,
        publisher.submit,
        lang=settings.language,
        show=view.show if view else None,
    )
    delivery = asyncio.create_task(publisher.run())
    renewal = asyncio.create_task(publisher.keep_token_fresh())
    listening = asyncio.create_task(pipeline.run())
    _stop_on_sigterm(listening)
    try:
        await asyncio.wait({delivery, listening}, return_when=asyncio.FIRST_COMPLETED)
        if delivery.done():
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
            delivery.result()  # raises ApiAuthError
        with contextlib.suppress(asyncio.CancelledError):
            listening.result()  # a cancelled pipeline (SIGTERM) still drains what it heard
        drained = await _drain(publisher, settings.drain_timeout_s, delivery)
        if not drained:
            log.error(
                "%d transcripts were not delivered within %.0f s",
                publisher.pending,
                settings.drain_timeout_s,
            )
            return EXIT_FAILURE
        log.info("%d utterances heard, %d transcripts posted", pipeline.utterances, publisher.sent)
        if publisher.parked:
            log.error(
                "%d final transcripts were set aside after repeated API errors; they stay in "
                "the outbox file and go out at the next start",
                publisher.parked,
            )
            return EXIT_FAILURE
        return EXIT_OK
    except ApiAuthError as exc:
        log.error("%s", exc)
        return EXIT_AUTH
    except SourceError as exc:
        log.error("%s", exc)
        return EXIT_FAILURE
    finally:
        if view is not None:
            view.close()
        for task in (listening, delivery, renewal):
            task.cancel()
        await asyncio.gather(listening, delivery, renewal, return_exceptions=True)


async def _drain(
    publisher: TranscriptPublisher, timeout_s: float, delivery: asyncio.Task[None]
) -> bool:
    """Wait for the outbox to empty, unless the delivery worker dies first (401 while draining)."""
    drain = asyncio.create_task(publisher.drain(timeout_s))
    await asyncio.wait({drain, delivery}, return_when=asyncio.FIRST_COMPLETED)
    if not drain.done():
        drain.cancel()
        delivery.result()  # raises ApiAuthError
    return drain.done() and not drain.cancelled() and drain.result()


def _stop_on_sigterm(task: asyncio.Task[None]) -> None:
    # Greengrass stops a component with SIGTERM: stop listening, deliver what was heard, exit 0.
    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=getattr(logging, settings.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO; a device posting several partials a second would drown.
    logging.getLogger("httpx").setLevel(logging.WARNING)
