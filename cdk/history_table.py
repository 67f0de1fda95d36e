"""The chat history: one DynamoDB item per turn, expiring through TTL.

Keys and the TTL attribute are fixed by ``lambdas/voicebot/adapters/dynamo_history.py``.
On-demand billing: an idle voicebot costs nothing here but storage.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .constants import HISTORY_PARTITION_KEY, HISTORY_SORT_KEY, HISTORY_TTL_ATTRIBUTE


class HistoryTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retain_on_destroy: bool) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=HISTORY_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=HISTORY_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=HISTORY_TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Users' conversations outlive `cdk destroy` unless the deployer opts out.
            removal_policy=RemovalPolicy.RETAIN if retain_on_destroy else RemovalPolicy.DESTROY,
        )
