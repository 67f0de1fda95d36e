"""Operations: alarms on one SNS topic (an e-mail subscription by context), a monthly budget
notifying the same topic, and a dashboard with the turn's latency ledger and the cost drivers."""

from __future__ import annotations

import json
from typing import Any

from .conftest import REPO_ROOT, Synth, flatten, function_ids, ref_id

# What the README's Operations section explains; each must exist in the default deployment.
EXPECTED_ALARMS = {
    *(f"{''.join(p.capitalize() for p in key.split('_'))}Errors" for key in (
        "health", "sessions", "transcripts", "speech", "history",
        "ws_connect", "ws_disconnect", "ws_messages", "ws_chat", "chat",
    )),
    "ChatThrottles",
    "ChatDurationNearTimeout",
    "ChatConcurrencyNearReservation",
    "FirstAudioP95",
    "QuotaRefusals",
    "RestApi5xx",
    "RestApi4xxBurst",
    "WebSocketErrors",
    "WafBlocks",
    "HistoryThrottles",
    "CacheMemory",
    "CacheEvictions",
    "CacheCpu",
}  # fmt: skip


def _alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in synth.of_type("AWS::CloudWatch::Alarm").items()}


def _topic(synth: Synth) -> str:
    (topic,) = synth.of_type("AWS::SNS::Topic")
    return topic


def test_every_documented_alarm_exists(synth: Synth) -> None:
    names = {logical_id.removeprefix("Operations") for logical_id in _alarms(synth)}
    for alarm in EXPECTED_ALARMS:
        assert any(name.startswith(alarm) for name in names), alarm
    assert len(names) >= 6


def test_every_alarm_notifies_the_one_topic(synth: Synth) -> None:
    topic = _topic(synth)
    for logical_id, alarm in _alarms(synth).items():
        assert [ref_id(action) for action in alarm["AlarmActions"]] == [topic], logical_id
        assert alarm["TreatMissingData"] == "notBreaching", logical_id
        assert len(alarm["AlarmDescription"]) > 20, logical_id


def test_topic_is_tls_only(synth: Synth) -> None:
    (policy,) = synth.of_type("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )


def test_chat_alarms_watch_the_chat_function(synth: Synth) -> None:
    chat = function_ids(synth)["chat"]
    alarms = {k.removeprefix("Operations"): v for k, v in _alarms(synth).items()}
    duration = next(v for k, v in alarms.items() if k.startswith("ChatDurationNearTimeout"))
    assert duration["MetricName"] == "Duration"
    assert duration["Statistic"] == "Maximum"
    assert duration["Threshold"] == 0.9 * 300 * 1000
    assert ref_id(duration["Dimensions"][0]["Value"]) == chat
    concurrency = next(
        v for k, v in alarms.items() if k.startswith("ChatConcurrencyNearReservation")
    )
    assert concurrency["MetricName"] == "ConcurrentExecutions"
    assert concurrency["Threshold"] == 8  # 80% of the default reservation of 10


def test_first_audio_alarm_reads_the_metric_the_chat_function_emits(synth: Synth) -> None:
    alarms = {k.removeprefix("Operations"): v for k, v in _alarms(synth).items()}
    first_audio = next(v for k, v in alarms.items() if k.startswith("FirstAudioP95"))
    assert (first_audio["Namespace"], first_audio["MetricName"]) == ("Voicebot", "FirstAudioMs")
    assert first_audio["ExtendedStatistic"] == "p95"
    assert first_audio["Dimensions"] == [{"Name": "service", "Value": "voicebot"}]


def test_budget_notifies_the_topic_which_lets_budgets_publish(synth: Synth) -> None:
    (budget,) = synth.of_type("AWS::Budgets::Budget").values()
    props = budget["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": 50, "Unit": "USD"}
    assert props["Budget"]["TimeUnit"] == "MONTHLY"
    topic = _topic(synth)
    for notification in props["NotificationsWithSubscribers"]:
        (subscriber,) = notification["Subscribers"]
        assert (subscriber["SubscriptionType"], ref_id(subscriber["Address"])) == ("SNS", topic)
    (policy,) = synth.of_type("AWS::SNS::TopicPolicy").values()
    assert any(
        s.get("Principal") == {"Service": "budgets.amazonaws.com"} and s["Action"] == "sns:Publish"
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_an_alarm_email_subscribes_to_the_topic(limits: Synth, synth: Synth) -> None:
    (subscription,) = limits.of_type("AWS::SNS::Subscription").values()
    props = subscription["Properties"]
    assert (props["Protocol"], props["Endpoint"]) == ("email", "ops@example.com")
    assert ref_id(props["TopicArn"]) == _topic(limits)
    assert synth.of_type("AWS::SNS::Subscription") == {}  # no address, no subscription


def test_a_zero_budget_means_no_budget(limits: Synth) -> None:
    assert limits.of_type("AWS::Budgets::Budget") == {}


def test_dashboard_shows_the_ledger_turns_errors_and_cost_drivers(synth: Synth) -> None:
    (dashboard,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    body = flatten(dashboard["Properties"]["DashboardBody"])
    widgets = json.loads(body.replace("<", "").replace(">", ""))["widgets"]
    titles = [w["properties"]["title"] for w in widgets]
    assert any("latency ledger" in t for t in titles)
    metrics = json.dumps([w["properties"].get("metrics", []) for w in widgets])
    for name in (
        "FirstTokenMs",
        "FirstSentenceMs",
        "FirstAudioMs",
        "TurnsInterrupted",
        "Errors",
        "InputTokenCount",
        "OutputTokenCount",
        "RequestCharacters",
        "QuotaExceeded",
        "BlockedRequests",
    ):
        assert name in metrics, name


def test_readme_explains_every_alarm_and_prices_the_deployment() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    operations = readme[readme.index("## Operations") :]
    operations = operations[: operations.index("\n## ", 1)]
    for alarm in EXPECTED_ALARMS - {
        f"{n}Errors"
        for n in (
            "Health",
            "Sessions",
            "Transcripts",
            "Speech",
            "History",
            "WsConnect",
            "WsDisconnect",
            "WsMessages",
            "WsChat",
        )
    }:
        assert f"`{alarm}`" in operations, alarm
    assert "`<Function>Errors`" in operations
    costs = readme[readme.index("### What it costs") : readme.index("## Operations")]
    for item in (
        "Bedrock",
        "Polly",
        "Transcribe",
        "Lambda",
        "API Gateway",
        "ElastiCache",
        "DynamoDB",
        "CloudFront",
        "WAF",
    ):
        assert item in costs, item
    assert "per 1,000 turns" in costs
