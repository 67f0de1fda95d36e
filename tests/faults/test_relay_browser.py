"""The page in a real browser (Chromium) on the real local stack, whose Redis is restarted under
it: the page recovers on its own (its next message is refused ``unauthorized``, it reconnects,
registers again and resumes), shows what was published meanwhile once, and answers again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.redis_server import EmbeddedRedis
from tests.local.conftest import RunningStack, scripted_stack_on

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -r requirements/web.txt")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture(scope="module")
def stack(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    running = scripted_stack_on(
        redis_server.url, tmp_path_factory.mktemp("stack"), SCRIPTED_ANSWER="네. 알겠습니다."
    )
    yield running.start()
    running.stop()


@pytest.fixture
def page(stack: RunningStack) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        # bypass_csp lets Playwright evaluate its own scripts under the page's strict CSP.
        page = browser.new_context(locale="en-US", bypass_csp=True).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(stack.base_url + "/")
        page.wait_for_function("window.voicebot?.connection === 'connected'", timeout=15_000)
        yield page
        browser.close()
        assert not errors, errors


def say(stack: RunningStack, page: Any, utterance: str, text: str) -> dict[str, Any]:
    token = page.evaluate("JSON.parse(sessionStorage.getItem('voicebot.session')).deviceToken")
    body = {"utteranceId": utterance, "seq": 0, "text": text, "final": False}
    with stack.client() as client:
        for _ in range(2):  # a device retries a 503 (main's pool failed once after a restart)
            response = client.post(
                "/api/transcripts", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 503:
                break
    assert response.status_code == 202, response.text
    return dict(response.json())


def ask(page: Any, text: str) -> str:
    page.fill("#chat-text", text)
    page.press("#chat-text", "Enter")
    return str(page.evaluate("window.voicebot.sent.filter(a => a.action === 'chat').at(-1).turnId"))


def transcripts(page: Any) -> list[str]:
    shown = "window.voicebot.events.filter(e => e.type === 'transcript').map(e => e.text)"
    return list(page.evaluate(shown))


@pytest.mark.timeout(120)
def test_the_page_recovers_by_itself_when_redis_loses_its_registry(stack, redis_server, page):
    say(stack, page, "u1", "하나")
    page.wait_for_function("window.voicebot.events.some(e => e.type === 'transcript')")

    redis_server.restart()  # the registry, the stream, the claims: all gone
    assert say(stack, page, "u2", "둘")["delivered"] == 0  # stored; the page is not known

    refused = ask(page, "안녕하세요")  # refused: unauthorized, then its done; then a reconnect
    page.wait_for_function(
        "t => window.voicebot.events.some(e => e.type === 'done' && e.turnId === t)", arg=refused
    )
    page.wait_for_function(
        "window.voicebot.sent.some(a => a.action === 'resume') && "
        "window.voicebot.connection === 'connected'",
        timeout=15_000,
    )
    page.wait_for_function(
        "window.voicebot.events.filter(e => e.type === 'transcript').length === 2"
    )
    assert transcripts(page) == ["하나", "둘"]

    answered = ask(page, "안녕하세요")  # the new connection is registered: it answers again
    page.wait_for_function(
        "t => window.voicebot.events.some(e => e.type === 'done' && e.turnId === t && e.text)",
        arg=answered,
        timeout=15_000,
    )
    assert transcripts(page) == ["하나", "둘"]  # nothing twice
