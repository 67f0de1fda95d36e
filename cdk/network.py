"""The VPC: functions reach Redis privately and reach AWS APIs with no manual routing step.

Egress choice: one NAT gateway (per AZ if ``natGateways`` says so) plus a free DynamoDB gateway
endpoint. Interface endpoints alone cannot work here: the WebSocket ``@connections`` management API
is a public execute-api endpoint, and an execute-api interface endpoint only serves *private* APIs
(with private DNS on it would even break calls to this stack's public APIs). Interface endpoints for
the remaining services (Secrets Manager, Bedrock runtime, Polly, X-Ray) would cost more than the NAT
gateway (about 4 services x 2 AZs x 0.01 USD/h) and still leave the management API unreachable.

Subnets: public (the NAT gateway only), private with egress (the functions), isolated (the cache:
it needs no route out at all).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct


class Network(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        nat_gateways: int,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="functions", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
                ec2.SubnetConfiguration(name="cache", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            ],
            gateway_endpoints={
                # History reads and writes stay inside AWS's network and off the NAT bill.
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
                    subnets=[ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)],
                )
            },
            # Nothing in the stack uses the default security group; stripping its rules would cost
            # a custom-resource Lambda for no gain.
            restrict_default_security_group=False,
        )
        self._build_flow_log(log_retention)
        self.function_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.cache_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        # One group for every function that talks to Redis; the cache admits only this group.
        self.function_security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="Voicebot functions that reach the transcript cache",
            # Functions call AWS APIs over HTTPS through the NAT gateway and Redis on its port.
            allow_all_outbound=True,
        )

    def _build_flow_log(self, retention: logs.RetentionDays) -> None:
        # Only rejected traffic: enough to debug a security group, cheap to keep.
        group = logs.LogGroup(
            self, "FlowLogs", retention=retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
