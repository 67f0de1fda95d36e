"""Voice to voice: from the end of the person's speech to the first audio scheduled on the page.

For each turn-taking strategy — ``wait-for-final`` (the page's ``chat`` on the final transcript
starts the answer: the baseline) and ``preemptive`` (the server may start the answer on a stable
partial and hold its audio until the final confirms it; switched off by the stack's
``--no-preemptive-answers`` / ``PREEMPTIVE_ANSWERS=false``) — the local stack runs with the
benchmark's scripted providers, and

- (a) a scripted recognizer (``bench/_v2v_recognizer.py``: partial cadence, stability and end of
  speech → final calibrated to Amazon Transcribe's published figures, or a fast-finalizing
  Riva-like one) posts each Korean question to the real relay (``POST /api/transcripts`` with the
  device token) while a simulated page (``bench/_v2v_page.py``) takes the turn as
  ``web/js/app.js`` does;
- (b) the real offline path: espeak-ng Korean WAVs with a known end of speech, through the
  interpreter with Vosk (``python -m bench._v2v_interpreter``, i.e. ``python -m interpreter``);
- ``--pipecat``: ours ÷ Pipecat's text aggregation on the same token stream and synthesizer.

Prints tables, writes ``bench/results/voice_to_voice.json`` (``--copy-to-docs``: docs/bench/).

    python -m bench.voice_to_voice --turns 3 --no-vosk --no-pipecat   # a quick look, ~2 min
    python -m bench.voice_to_voice --copy-to-docs                     # the full run, ~15 min
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ._cli import bench_parser
from ._client import new_session, open_page
from ._providers import DEFAULT_ANSWER, UNPUNCTUATED_ANSWER, Floor, Providers, floor_of
from ._stack import RunningStack, local_stack
from ._stats import REPO, RESULTS, copy_to_docs, machine, percentile, table, write_json
from ._v2v_page import Device, VoicePage, VoiceTurn, now_ms
from ._v2v_recognizer import PROFILES, Timeline, timelines

STRATEGIES = ("wait-for-final", "preemptive")
PIPECAT_PYTHON = Path("/tmp/pipecatenv/bin/python")
TURN_TIMEOUT_S = 30.0
GAP_S = 0.3  # between the previous answer's done and the next utterance
VOSK_GAP_S = 6.0  # silence after each utterance of the WAV: the answer ends within it

# Korean answers of a voice bot for the Pipecat comparison: the stack's answer (with and without
# its commas), and shapes where our first clause cannot help (short first sentence, no comma).
PIPECAT_ANSWERS = (
    DEFAULT_ANSWER,
    UNPUNCTUATED_ANSWER,
    "강남역까지는 지하철 이호선으로 약 이십 분 걸려요. 출근 시간에는 조금 더 걸릴 수 있으니 "
    "여유 있게 출발하세요. 환승 없이 바로 가는 방법도 있어요.",
    "감기에 걸렸을 때는 따뜻한 물을 자주 마시는 게 좋아요. 생강차나 꿀물도 목을 편하게 해 줘요. "
    "증상이 사흘 넘게 계속되면 병원에 가 보세요.",
    "네, 다음 주 화요일 오후 세 시에 회의를 잡아 두었습니다. 참석자에게 초대장을 보낼까요?",
    "제주도에 가시면 성산일출봉은 꼭 가 보시는 게 좋은데, 아침 일찍 가면 해돋이를 볼 수 있어요. "
    "그리고 우도도 배로 금방 갈 수 있습니다. 날씨가 좋으면 한라산 등반도 추천해요.",
    "죄송하지만 그 노래는 제가 지금 확인할 수 없어요. 가사 일부를 말씀해 주시면 찾아볼게요.",
)
# More answers as a voice bot gives them, none with a clause mark in its first sentence: where
# the first segment can end early only at a phrase (FIRST_PHRASE_MIN_CHARS), or not at all (the
# last two: a bare topic noun, which the phrase rule does not cut).
PIPECAT_MORE_ANSWERS = (
    "서울에서 부산까지는 케이티엑스로 두 시간 반 정도 걸려요. 주말에는 표가 빨리 매진되니 "
    "미리 예매하세요.",
    "비행기 표를 예매하실 때는 출발 두 달 전쯤이 가장 저렴한 편이에요. 화요일이나 수요일 "
    "출발이 더 싸기도 해요.",
    "요즘은 해가 빨리 지고 저녁에는 꽤 쌀쌀하니 겉옷을 꼭 챙기세요. 특히 강가는 바람이 더 "
    "차가워요.",
    "영수증을 가지고 오시면 교환이나 환불을 바로 도와드릴게요. 구매하신 지 칠 일이 지나면 "
    "어려울 수 있어요.",
    "이 노래는 이천십팔 년에 나온 곡이고 지금도 많이 사랑받고 있어요. 원곡 가수의 정규 앨범에 "
    "실려 있어요.",
    "파스타를 삶을 때에는 물에 소금을 충분히 넣어 주세요. 그래야 면에 간이 잘 배어요.",
    "환불은 구매하신 날로부터 칠 일 이내에 가능합니다. 영수증을 꼭 챙겨 주세요.",
    "지금 계신 곳에서 가장 가까운 약국은 이백 미터 앞에 있어요. 오늘은 밤 열 시까지 문을 열어요.",
)
# The scripted answer of part (a) (``--answer``): the stack's weather answer, which opens with a
# 14-character clause ("오늘 서울은 대체로 맑고,"), or a directions answer that opens with a
# 6-character topic phrase ("강남역까지는"), where the first segment ends at a phrase.
V2V_ANSWERS = {
    "default": DEFAULT_ANSWER,
    "unpunctuated": UNPUNCTUATED_ANSWER,
    "directions": PIPECAT_ANSWERS[2],
}
VOSK_UTTERANCES = (
    "오늘 서울 날씨 어때요",
    "내일 아침에 비가 올까요",
    "근처에 약국이 있나요",
    "지금 몇 시예요",
    "고맙습니다",
)


@dataclass(frozen=True)
class Config:
    strategy: str
    recognizer: str
    first_token_ms: int

    @property
    def name(self) -> str:
        return f"{self.strategy}/{self.recognizer}/ft{self.first_token_ms}"


# ---- the stack --------------------------------------------------------------------------------


def _local_has_flag(flag: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "local", "--help"], cwd=REPO, capture_output=True, text=True
    )
    return flag in out.stdout


def stack_for(strategy: str, providers: Providers) -> Any:
    """The local stack with this strategy: the setting in the environment, and the flag if any."""
    env = {**providers.environment(), "PREEMPTIVE_ANSWERS": str(strategy == "preemptive").lower()}
    args: list[str] = []
    if strategy == "wait-for-final" and _local_has_flag("--no-preemptive-answers"):
        args.append("--no-preemptive-answers")
    log = RESULTS / f"voice_to_voice-{strategy}-ft{providers.first_token_ms}-stack.log"
    return local_stack(env, log, args=args), args


# ---- (a) the scripted recognizer ---------------------------------------------------------------


async def speak(page: VoicePage, device: Device, turn: VoiceTurn, tl: Timeline) -> None:
    """Post the utterance's transcripts at their moments, then wait for the answer's done."""
    start = now_ms() + 20
    turn.eos = start + tl.speech_ms
    turn.device = {
        "speechMs": tl.speech_ms,
        "completePartial": tl.complete_ms,
        "stablePartial": tl.stable_ms,
        "finalRecognized": tl.final_ms,
        "revised": float(tl.revised),
    }
    page.by_utterance[turn.utterance_id] = turn
    for seq, post in enumerate(tl.posts):
        due = start + post.at_ms
        await asyncio.sleep(max(0.0, (due - now_ms()) / 1000))
        body: dict[str, Any] = {
            "utteranceId": turn.utterance_id,
            "seq": seq,
            "text": post.text,
            "final": post.final,
            "lang": "ko-KR",
            "stableChars": post.stable_chars,
            "speechStartedAt": int(start),
            "recognizedAt": int(due),
        }
        if post.speech_ended_known:
            body["speechEndedAt"] = int(turn.eos)
        took = await device.post(body)
        if post.final:
            turn.marks["finalPostAnsweredMs"] = took
    try:
        await asyncio.wait_for(turn.done.wait(), TURN_TIMEOUT_S)
    except TimeoutError:
        turn.errors.append("timeout")


async def run_scripted(
    stack: RunningStack, configs: list[Config], turns: int, seed: int
) -> dict[str, list[VoiceTurn]]:
    out: dict[str, list[VoiceTurn]] = {}
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
        session = await new_session(http)
        device = Device(http, session)
        ws = await open_page(stack.ws_url, session.token)
        async with ws:
            page = VoicePage(ws, (await http.get("/config.json")).json())
            reader = asyncio.create_task(page.run())
            run_id = f"r{int(time.time())}"
            # One warm-up turn (first use of every handler), not counted.
            warm = timelines(PROFILES["transcribe"], 1, seed + 999)[0]
            await speak(page, device, VoiceTurn("warmup", -1, warm.text, f"{run_id}-w"), warm)
            for config in configs:
                print(f"  {config.name}: {turns} turns …", flush=True)
                records = []
                for i, tl in enumerate(timelines(PROFILES[config.recognizer], turns, seed)):
                    await asyncio.sleep(GAP_S)
                    uid = f"{run_id}-{config.recognizer}-{i}"
                    turn = VoiceTurn(config.name, i, tl.text, uid)
                    await speak(page, device, turn, tl)
                    records.append(turn)
                out[config.name] = records
            await asyncio.sleep(0.5)  # late events of the last turn
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    page_checks[stack.base_url] = _page_checks(page)
    return out


page_checks: dict[str, dict[str, Any]] = {}


def _page_checks(page: VoicePage) -> dict[str, Any]:
    """Audio the real page would have dropped: for a turn never asked, or before its chat."""
    before = [a for a in page.unasked_audio if a["turnId"] in page.asked]
    never = [a for a in page.unasked_audio if a["turnId"] not in page.asked]
    return {
        "audio_for_unasked_turns": len(never),
        "audio_before_chat": len(before),
        "unasked_turn_ids": sorted({str(a["turnId"]) for a in never}),
        "unexpected_finals": page.unexpected_finals,
    }


# ---- summaries --------------------------------------------------------------------------------

MILESTONES = (
    ("completePartial", "device", "complete utterance in a partial (device)"),
    ("stablePartial", "device", "… every character stable (device)"),
    ("finalRecognized", "device", "final recognized (device)"),
    ("finalAtPage", "marks", "final at the page"),
    ("chatSent", "marks", "page sends chat"),
    ("received", "ledger", "server: turn received"),
    ("firstToken", "ledger", "server: first token"),
    ("firstSentence", "ledger", "server: first segment cut"),
    ("firstAudio", "ledger", "server: first audio put"),
    ("firstAudio", "marks", "page: first audio scheduled"),
    ("done", "marks", "page: done"),
)
STAGES = (
    ("recognizer finalization", ("device", "finalRecognized"), None),
    ("relay (post → page)", ("marks", "finalAtPage"), ("device", "finalRecognized")),
    ("turn start: page echo", ("marks", "chatSent"), ("marks", "finalAtPage")),
    ("turn start: chat → server", ("ledger", "received"), ("marks", "chatSent")),
    ("model first token", ("ledger", "firstToken"), ("ledger", "received")),
    ("first segment", ("ledger", "firstSentence"), ("ledger", "firstToken")),
    ("synthesis", ("ledger", "firstAudio"), ("ledger", "firstSentence")),
    ("delivery", ("marks", "firstAudio"), ("ledger", "firstAudio")),
)


def _get(turn: VoiceTurn, where: str, key: str) -> float | None:
    return getattr(turn, where).get(key)


def _pcts(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95)}


def summarise(config: Config, turns: list[VoiceTurn], floor: Floor) -> dict[str, Any]:
    ok = [t for t in turns if "firstAudio" in t.marks]
    v2v = [t.marks["firstAudio"] for t in ok]
    # Floors, per turn: the recognizer's moment the strategy can start from + the providers'.
    floors = {
        "final": [t.device["finalRecognized"] + floor.first_audio_ms for t in ok],
        "completePartial": [t.device["completePartial"] + floor.first_audio_ms for t in ok],
        "stablePartial": [t.device["stablePartial"] + floor.first_audio_ms for t in ok],
    }
    own = "final" if config.strategy == "wait-for-final" else "completePartial"
    above = [a - f for a, f in zip(v2v, floors[own], strict=True)]
    milestones = {}
    for key, where, label in MILESTONES:
        values = [v for t in ok if (v := _get(t, where, key)) is not None]
        milestones[f"{where}.{key}"] = {"label": label, **_pcts(values)}
    stages = {}
    for label, (w1, k1), base in STAGES:
        values = []
        for t in ok:
            end = _get(t, w1, k1)
            start = 0.0 if base is None else _get(t, *base)
            if end is not None and start is not None:
                values.append(end - start)
        stages[label] = _pcts(values)
    playback = {}
    for lengths in ("tone", "speech"):
        gaps = [t.playback()[f"gapsMs_{lengths}"] for t in ok]
        first = [g[0] for g in gaps if g]
        every = [x for g in gaps for x in g]
        playback[lengths] = {
            "second_segment_gap": _pcts(first),
            "turns_with_a_gap_before_the_second": sum(1 for x in first if x > 0),
            "max_gap": max(every, default=0.0),
        }
    ledger_keys = sorted({k for t in turns for k in t.ledger})
    discard_keys = [k for k in ledger_keys if "discard" in k.lower()]
    return {
        "config": config.name,
        "strategy": config.strategy,
        "recognizer": config.recognizer,
        "first_token_ms": config.first_token_ms,
        "turns": len(turns),
        "answered": len(ok),
        "errors": sorted({e for t in turns for e in t.errors}),
        "end_of_speech_to_first_audio": _pcts(v2v),
        "floor_kind": own,
        "floor": {k: _pcts(v) for k, v in floors.items()},
        "above_own_floor": _pcts(above),
        "p50_minus_floor_p50": percentile(v2v, 50) - percentile(floors[own], 50),
        "milestones_after_eos": milestones,
        "stages": stages,
        "playback_gaps_ms": playback,
        "first_segment": ok[0].segments.get(0) if ok else None,
        "ledger_keys": ledger_keys,
        "server_discards": sum(1 for t in turns if any(k in t.ledger for k in discard_keys)),
        "records": [t.as_dict() for t in turns],
    }


def goals(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 12's acceptance line 2, measured (the preemptive rows need the server strategy)."""
    out = []

    def p50(name: str) -> float:
        s = summaries.get(name)
        return s["end_of_speech_to_first_audio"]["p50"] if s else float("nan")

    base, pre = "wait-for-final/transcribe/ft400", "preemptive/transcribe/ft400"
    if base in summaries and pre in summaries:
        gain = p50(base) - p50(pre)
        out.append(
            {
                "goal": "preemptive p50 ≥ 600 ms below wait-for-final (Transcribe, 400 ms)",
                "value": gain,
                "met": gain >= 600,
            }
        )
        near = summaries[pre]["p50_minus_floor_p50"]
        out.append(
            {
                "goal": "preemptive p50 within 150 ms of its floor (Transcribe, 400 ms)",
                "value": near,
                "met": near <= 150,
            }
        )
        s = summaries[pre]
        share = s["server_discards"] / s["turns"] if s["turns"] else float("nan")
        out.append(
            {
                "goal": "discarded preemptive answers ≤ 10% of turns (server's count)",
                "value": share * 100,
                "met": share <= 0.10,
            }
        )
    # "p50 ≤ 800 ms with a 200 ms first token and a fast-finalizing recognizer": each alone has
    # a floor above 800 ms (see the floor column), so the goal is read as both together.
    for name in ("preemptive/transcribe/ft200", "preemptive/fast/ft400", "preemptive/fast/ft200"):
        if name in summaries:
            floor = summaries[name]["floor"]["completePartial"]["p50"]
            out.append(
                {
                    "goal": f"{name} p50 ≤ 800 ms (its floor {floor:.0f})",
                    "value": p50(name),
                    "met": p50(name) <= 800,
                }
            )
    return out


def _gaps(playback: dict[str, Any]) -> str:
    return "; ".join(
        f"{playback[k]['turns_with_a_gap_before_the_second']} / {playback[k]['max_gap']:.0f}"
        for k in ("tone", "speech")
    )


def print_scripted(summaries: dict[str, dict[str, Any]], checks: dict[str, Any]) -> None:
    rows = []
    for s in summaries.values():
        base = summaries.get(s["config"].replace("preemptive/", "wait-for-final/"))
        v = s["end_of_speech_to_first_audio"]
        rows.append(
            [
                s["config"],
                f"{s['answered']}/{s['turns']}",
                f"{v['p50']:.0f} / {v['p95']:.0f}",
                f"{s['floor'][s['floor_kind']]['p50']:.0f} ({s['floor_kind']})",
                f"{s['p50_minus_floor_p50']:+.0f}",
                f"{base['end_of_speech_to_first_audio']['p50']:.0f}" if base else "—",
                s["server_discards"],
                _gaps(s["playback_gaps_ms"]),
            ]
        )
    print(
        table(
            [
                "config",
                "answered",
                "EoS → 1st audio p50 / p95",
                "floor p50",
                "p50 − floor",
                "wait-for-final p50",
                "server discards",
                "gaps: turns / max (tone; speech)",
            ],
            rows,
        )
    )
    print(
        "(ms after the end of speech; floor = when the strategy's recognizer text exists "
        "+ the providers' floor of the first spoken segment; gaps = turns with silence before "
        "the second segment and the largest silence, with the scripted audio's length and "
        "Korean speech's)"
    )
    names = list(summaries)
    print(
        table(
            ["after end of speech, p50", *names],
            [
                [
                    label,
                    *(
                        f"{summaries[n]['milestones_after_eos'][f'{w}.{k}']['p50']:.0f}"
                        for n in names
                    ),
                ]
                for k, w, label in MILESTONES
            ],
        )
    )
    print(
        table(
            ["stage, p50 (p95)", *names],
            [
                [
                    label,
                    *(
                        f"{summaries[n]['stages'][label]['p50']:.0f} "
                        f"({summaries[n]['stages'][label]['p95']:.0f})"
                        for n in names
                    ),
                ]
                for label, _, _ in STAGES
            ],
        )
    )
    print(
        "(VAD hangover: the interpreter's 700 ms, inside the recognizer's finalization — "
        "Transcribe's end-pointing figure already includes its own silence wait)"
    )
    for stack, c in checks.items():
        print(
            f"page checks ({stack}): audio for turns never asked {c['audio_for_unasked_turns']}"
            f", audio before its chat {c['audio_before_chat']}"
        )


# ---- (b) the offline path: espeak-ng WAVs → interpreter (Vosk) -----------------------------


def make_wav(texts: Sequence[str], folder: Path) -> tuple[Path, list[float], list[float]]:
    """One 16 kHz WAV of the utterances with silence between; their (start, end) of speech."""
    import numpy as np
    import soundfile

    rate = 16000
    parts = [np.zeros(rate, dtype=np.float32)]  # 1 s of silence first
    starts: list[float] = []
    ends: list[float] = []
    offset = rate
    for i, text in enumerate(texts):
        raw = folder / f"u{i}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
        samples, sr = soundfile.read(str(raw), dtype="float32", always_2d=False)
        if sr != rate:
            target = np.arange(int(len(samples) * rate / sr)) / rate
            samples = np.interp(target, np.arange(len(samples)) / sr, samples).astype(np.float32)
        loud = np.flatnonzero(np.abs(samples) > 0.02 * float(np.abs(samples).max()))
        speech = samples[loud[0] : loud[-1] + 1]  # trim espeak's own silences: ends are exact
        starts.append(offset / rate * 1000)
        ends.append((offset + len(speech)) / rate * 1000)
        parts += [speech, np.zeros(int(VOSK_GAP_S * rate), dtype=np.float32)]
        offset += len(speech) + int(VOSK_GAP_S * rate)
    path = folder / "utterances.wav"
    soundfile.write(str(path), np.concatenate(parts), rate, subtype="PCM_16")
    return path, starts, ends


async def run_vosk(stack: RunningStack, strategy: str, texts: Sequence[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="v2v-wav-") as tmp:
        wav, starts, ends = make_wav(texts, Path(tmp))
        turns = [VoiceTurn(f"{strategy}/vosk", i, t, f"wav-{i}") for i, t in enumerate(texts)]
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as http:
            session = await new_session(http)
            ws = await open_page(stack.ws_url, session.token)
            async with ws:
                page = VoicePage(ws, (await http.get("/config.json")).json())
                wav_start: list[float] = []

                def claim(utterance: str, final: bool, at: float) -> VoiceTurn | None:
                    # An utterance of the interpreter belongs to the latest WAV utterance that
                    # had started (a partial) or ended (a final) by then and has no final yet.
                    if not wav_start:
                        return None
                    began = [
                        t
                        for t, s in zip(turns, starts, strict=True)
                        if (t.eos if final else wav_start[0] + s) <= at and t.turn_id is None
                    ]
                    return began[-1] if began else None

                page.on_unknown_utterance = claim
                reader = asyncio.create_task(page.run())
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bench._v2v_interpreter",
                    "--wav",
                    str(wav),
                    "--realtime",
                    "--recognizer",
                    "vosk",
                    "--api",
                    stack.base_url,
                    "--quiet",
                    "--log-level",
                    "WARNING",
                    cwd=REPO,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env={**os.environ, "VOICEBOT_DEVICE_TOKEN": session.device_token},
                )
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), 120)
                if not line.startswith(b"wav-start "):
                    _, err = await proc.communicate()
                    raise RuntimeError(f"interpreter: {line!r} {err.decode()[-2000:]}")
                wav_start.append(float(line.split()[1]))
                for turn, end in zip(turns, ends, strict=True):
                    turn.eos = wav_start[0] + end
                _, err = await proc.communicate()
                if proc.returncode:
                    print(f"  interpreter exit {proc.returncode}: {err.decode()[-1500:]}")
                for turn in turns:
                    if turn.turn_id is not None:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(turn.done.wait(), TURN_TIMEOUT_S)
                await asyncio.sleep(0.5)
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
    ok = [t for t in turns if "firstAudio" in t.marks]

    def vals(where: str, key: str) -> list[float]:
        return [v for t in ok if (v := _get(t, where, key)) is not None]

    return {
        "strategy": strategy,
        "utterances": [
            {
                "said": t.text,
                "heard": t.final_text,
                "speechMs": e - s,
                "finalAtPage": t.marks.get("finalAtPage"),
                "firstAudio": t.marks.get("firstAudio"),
                "partials": [x for x in t.transcripts if not x[2]],
            }
            for t, s, e in zip(turns, starts, ends, strict=True)
        ],
        "heard": sum(1 for t in turns if t.final_text),
        "end_of_speech_to_final_at_page": _pcts(vals("marks", "finalAtPage")),
        "end_of_speech_to_first_audio": _pcts(vals("marks", "firstAudio")),
        "final_at_page_to_first_audio": _pcts(
            [t.marks["firstAudio"] - t.marks["finalAtPage"] for t in ok if "finalAtPage" in t.marks]
        ),
        "page_checks": _page_checks(page),
        "extra_finals": page.unexpected_finals,
        "records": [t.as_dict() for t in turns],
    }


def print_vosk(results: list[dict[str, Any]]) -> None:
    for r in results:
        print(
            f"Vosk via the interpreter, {r['strategy']}: heard {r['heard']}/"
            f"{len(r['utterances'])} utterances"
        )
        print(
            table(
                ["said (espeak-ng -v ko)", "Vosk heard", "EoS → final at page", "EoS → 1st audio"],
                [
                    [
                        u["said"],
                        u["heard"] or "(nothing)",
                        u["finalAtPage"] or float("nan"),
                        u["firstAudio"] or float("nan"),
                    ]
                    for u in r["utterances"]
                ],
            )
        )
        v, f = r["end_of_speech_to_first_audio"], r["end_of_speech_to_final_at_page"]
        print(
            f"EoS → first audio p50 {v['p50']:.0f} / p95 {v['p95']:.0f} ms (n={v['n']}); "
            f"EoS → final at page p50 {f['p50']:.0f} ms; extra finals {r['extra_finals']}"
        )


# ---- (5) Pipecat --------------------------------------------------------------------------------


def _pipecat_python() -> Path | None:
    """This Python if it has pipecat-ai, else the benchmark's own venv for it, if there."""
    import importlib.util

    if importlib.util.find_spec("pipecat") is not None:
        return Path(sys.executable)
    return PIPECAT_PYTHON if PIPECAT_PYTHON.exists() else None


def run_pipecat(
    python: Path, providers: Providers, repeats: int, sweep: Sequence[int] = ()
) -> dict[str, Any]:
    request = {
        "sweep": list(sweep),
        "providers": {
            k: getattr(providers, k)
            for k in (
                "first_token_ms",
                "tokens_per_second",
                "chars_per_token",
                "tts_delay_ms",
                "tts_ms_per_char",
            )
        },
        "first_clause_min_chars": providers.first_clause_min_chars,
        "first_phrase_min_chars": providers.first_phrase_min_chars,
        "answers": [{"text": a, "set": "seven"} for a in PIPECAT_ANSWERS]
        + [{"text": a, "set": "more"} for a in PIPECAT_MORE_ANSWERS],
        "repeats": repeats,
    }
    out = subprocess.run(
        [str(python), "-m", "bench._v2v_pipecat"],
        input=json.dumps(request),
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO / 'lambdas'}{os.pathsep}{REPO}"},
        timeout=300,
    )
    if out.returncode:
        raise RuntimeError(f"pipecat side failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["python_used"] = str(python)
    return result


def _first_gap(piece: dict[str, Any], lengths: str) -> str:
    gaps = piece.get(f"gapsMs_{lengths}") or [0.0]
    return f"{gaps[0]:.0f}/{max(gaps):.0f}"


def print_sweep(rows: list[dict[str, Any]]) -> None:
    sets = list(rows[0]["ratio_mean"]) if rows else []
    print(
        table(
            [
                "FIRST_PHRASE_MIN_CHARS",
                *(f"ours ÷ Pipecat, {s}" for s in sets),
                "answers with a gap before the 2nd piece: tone / speech",
            ],
            [
                [
                    r["first_phrase_min_chars"],
                    *(f"{r['ratio_mean'][s]:.3f}" for s in sets),
                    f"{r['answers_with_a_gap_before_the_second_piece']['tone']} / "
                    f"{r['answers_with_a_gap_before_the_second_piece']['speech']}",
                ]
                for r in rows
            ],
        )
    )
    print("(unpaced: token arrival times as scripted; the same providers and answers)")


def print_pipecat(result: dict[str, Any]) -> None:
    rows = []
    for a in result["answers"]:
        o, n, p = a["ours"], a["ours-no-phrase"], a["pipecat"]
        rows.append(
            [
                a.get("set", ""),
                o["firstPiece"][:16],
                f"{o['firstPieceChars']} / {p['firstPieceChars']}",
                f"{o['tokensToFirstPiece']} / {p['tokensToFirstPiece']}",
                f"{o['firstAudioMs']:.0f}",
                f"{n['firstAudioMs']:.0f}",
                f"{p['firstAudioMs']:.0f}",
                f"{a['ratio']:.2f}",
                f"tone {_first_gap(o, 'tone')}, speech {_first_gap(o, 'speech')}",
                f"tone {_first_gap(p, 'tone')}, speech {_first_gap(p, 'speech')}",
            ]
        )
    print(
        table(
            [
                "set",
                "ours 1st piece",
                "chars ours / Pipecat",
                "tokens",
                "ours 1st audio",
                "ours, no phrase",
                f"Pipecat {result['pipecat_version']}",
                "ours ÷ Pipecat",
                "ours gaps: 2nd / max",
                "Pipecat gap",
            ],
            rows,
        )
    )
    for name, s in result.get("sets", {}).items():
        print(
            f"ours ÷ Pipecat, {name} ({s['answers']} answers): mean of ratios "
            f"{s['ratio_mean']:.2f} (phrase cut off: {s['ratio_mean_no_phrase']:.2f}), ratio of "
            f"medians {s['ratio_of_medians']:.2f} (goal ≤ 0.8)"
        )
    print(
        f"ms from the model request, same tokens and pacing, same scripted synthesizer; "
        f"FIRST_CLAUSE_MIN_CHARS {result.get('first_clause_min_chars')}, "
        f"FIRST_PHRASE_MIN_CHARS {result.get('first_phrase_min_chars')}; gaps (ms) before the "
        "second piece / the largest, with the scripted tone's length and Korean speech's"
    )


# ---- the run ------------------------------------------------------------------------------------


def configs_for(args: argparse.Namespace) -> list[Config]:
    out = []
    for strategy in args.strategies:
        out.append(Config(strategy, "transcribe", args.first_token_ms))
        if args.first_token_ms_alt:
            out.append(Config(strategy, "transcribe", args.first_token_ms_alt))
        if args.fast:
            out.append(Config(strategy, "fast", args.first_token_ms))
            if args.first_token_ms_alt:
                out.append(Config(strategy, "fast", args.first_token_ms_alt))
    if args.only:
        out = [c for c in out if c.name in args.only]
    return out


def _answer(args: argparse.Namespace) -> str:
    return str(V2V_ANSWERS.get(args.answer, args.answer))


async def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    base = Providers(first_token_ms=args.first_token_ms, answer=_answer(args))
    configs = configs_for(args) if args.turns else []
    summaries: dict[str, dict[str, Any]] = {}
    stacks: dict[str, Any] = {}
    floors: dict[int, Floor] = {}
    vosk: list[dict[str, Any]] = []
    # One stack per strategy and first-token delay (the recognizer is the client's side).
    groups: dict[tuple[str, int], list[Config]] = {}
    for c in configs:
        groups.setdefault((c.strategy, c.first_token_ms), []).append(c)
    for strategy in args.strategies:
        for (s, ft), group in groups.items():
            if s != strategy:
                continue
            providers = Providers(first_token_ms=ft, answer=_answer(args))
            floors[ft] = floor_of(providers)
            ctx, flags = stack_for(strategy, providers)
            print(f"{strategy}, first token {ft} ms (stack flags {flags or 'none'}) …", flush=True)
            with ctx as stack:
                found = await run_scripted(stack, group, args.turns, args.seed)
                stacks[f"{strategy}/ft{ft}"] = page_checks.pop(stack.base_url)
                for c in group:
                    summaries[c.name] = summarise(c, found[c.name], floors[ft])
                if args.vosk and ft == args.first_token_ms:
                    print(f"  {strategy}: Vosk through the interpreter …", flush=True)
                    vosk.append(await run_vosk(stack, strategy, VOSK_UTTERANCES[: args.vosk]))
        if args.vosk and not any(s == strategy for s, _ in groups):
            ctx, _ = stack_for(strategy, base)
            with ctx as stack:
                print(f"  {strategy}: Vosk through the interpreter …", flush=True)
                vosk.append(await run_vosk(stack, strategy, VOSK_UTTERANCES[: args.vosk]))
    pipecat = None
    if args.pipecat:
        python = args.pipecat_python or _pipecat_python()
        if python is not None:
            print(f"ours and Pipecat's text aggregation ({python}) …", flush=True)
            pipecat = run_pipecat(python, base, args.pipecat_repeats)
            if args.phrase_sweep:
                pipecat["sweep"] = run_pipecat(python, base, 1, args.phrase_sweep)["sweep"]
                print_sweep(pipecat["sweep"])
        else:
            print("no Python with pipecat-ai: Pipecat side skipped (requirements/bench.txt)")
    print()
    if summaries:
        print_scripted(summaries, stacks)
    measured_goals = goals(summaries)
    if measured_goals:
        print(
            table(
                ["goal (issue 12)", "measured", "met"],
                [
                    [g["goal"], f"{g['value']:.0f}", "yes" if g["met"] else "NO"]
                    for g in measured_goals
                ],
            )
        )
    if vosk:
        print_vosk(vosk)
    if pipecat:
        print_pipecat(pipecat)
    result = {
        "benchmark": "voice_to_voice",
        "start_point": "the end of the person's speech (the last voiced audio)",
        "end_point": "the first audio event of the turn received by the page after its chat",
        "machine": machine(),
        "seconds": round(time.monotonic() - started, 1),
        "label": args.label,
        "providers": {k: v for k, v in base.__dict__.items() if k != "first_token_ms"},
        "floors": {str(ft): f.as_dict() for ft, f in floors.items()},
        "recognizers": {n: p.as_dict() for n, p in PROFILES.items()},
        "configs": summaries,
        "goals": measured_goals,
        "page_checks": stacks,
        "vosk": vosk,
        "pipecat": pipecat,
    }
    name = f"voice_to_voice-{args.label}.json" if args.label else "voice_to_voice.json"
    path = write_json(name, result)
    print(f"wrote {path}")
    if args.copy_to_docs:
        copy_to_docs(path)
    return 0


def _label(text: str) -> str:
    if not text.replace("-", "").isalnum():
        raise argparse.ArgumentTypeError("letters, digits and '-' only")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser("bench.voice_to_voice", __doc__)
    parser.add_argument(
        "--turns", type=int, default=20, help="utterances per configuration (0: none of part a)"
    )
    parser.add_argument(
        "--strategies",
        type=lambda s: s.split(","),
        default=list(STRATEGIES),
        help="comma-separated: wait-for-final, preemptive",
    )
    parser.add_argument("--first-token-ms", type=int, default=400)
    parser.add_argument(
        "--first-token-ms-alt",
        type=int,
        default=200,
        help="also the Transcribe recognizer with this first token (0: no)",
    )
    parser.add_argument(
        "--no-fast",
        dest="fast",
        action="store_false",
        help="skip the fast-finalizing (Riva-like) recognizer",
    )
    parser.add_argument(
        "--vosk",
        type=int,
        default=len(VOSK_UTTERANCES),
        help="utterances: espeak-ng → interpreter → Vosk (0: skip)",
    )
    parser.add_argument("--no-vosk", dest="vosk", action="store_const", const=0)
    parser.add_argument("--no-pipecat", dest="pipecat", action="store_false")
    parser.add_argument(
        "--pipecat-python",
        type=Path,
        default=None,
        help="a Python with pipecat-ai (default: this one if it has it, else "
        f"{PIPECAT_PYTHON}; see requirements/bench.txt)",
    )
    parser.add_argument("--pipecat-repeats", type=int, default=3)
    parser.add_argument(
        "--phrase-sweep",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[],
        help="also the Pipecat comparison unpaced for these FIRST_PHRASE_MIN_CHARS, e.g. 0,4,6,8",
    )
    parser.add_argument(
        "--answer",
        default="default",
        help="the scripted answer of part (a): " + ", ".join(V2V_ANSWERS) + " or any text",
    )
    parser.add_argument(
        "--only",
        type=lambda s: s.split(","),
        default=None,
        help="only these rows of part (a), e.g. preemptive/transcribe/ft200,preemptive/fast/ft400",
    )
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--label", type=_label, help="writes voice_to_voice-LABEL.json")
    parser.add_argument("--copy-to-docs", action="store_true", help="also copy into docs/bench/")
    args = parser.parse_args(argv)
    bad = [s for s in args.strategies if s not in STRATEGIES]
    if bad:
        parser.error(f"unknown strategies {bad}: choose from {', '.join(STRATEGIES)}")
    if args.turns > 60 or args.vosk > len(VOSK_UTTERANCES):
        parser.error(f"keep runs bounded: --turns ≤ 60, --vosk ≤ {len(VOSK_UTTERANCES)}")
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
