"""The VPC, the cache and the history table: private where they can be, encrypted, reachable
only by the functions that need them."""

from __future__ import annotations

from typing import Any

from .conftest import Synth, flatten, function_ids, ref_id, references


def _subnets_by_group(synth: Synth) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for logical_id, subnet in synth.of_type("AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in subnet["Properties"].get("Tags", [])}
        groups.setdefault(tags["aws-cdk:subnet-name"], set()).add(logical_id)
    return groups


def _default_route_targets(synth: Synth, subnet_id: str) -> list[str]:
    table = next(
        ref_id(a["Properties"]["RouteTableId"])
        for a in synth.of_type("AWS::EC2::SubnetRouteTableAssociation").values()
        if ref_id(a["Properties"]["SubnetId"]) == subnet_id
    )
    return [
        key
        for route in synth.of_type("AWS::EC2::Route").values()
        if ref_id(route["Properties"]["RouteTableId"]) == table
        and route["Properties"].get("DestinationCidrBlock") == "0.0.0.0/0"
        for key in route["Properties"]
        if key in ("NatGatewayId", "GatewayId")
    ]


def test_functions_reach_the_internet_only_through_a_nat_gateway(synth: Synth) -> None:
    groups = _subnets_by_group(synth)
    assert set(groups) == {"public", "functions", "cache"}
    assert len(synth.of_type("AWS::EC2::NatGateway")) == 1
    for subnet in groups["functions"]:
        assert _default_route_targets(synth, subnet) == ["NatGatewayId"]
    for subnet in groups["cache"]:
        assert _default_route_targets(synth, subnet) == []  # isolated: no way out at all


def test_only_the_nat_gateway_lives_in_a_public_subnet(synth: Synth) -> None:
    public = _subnets_by_group(synth)["public"]
    users = [
        resource["Type"]
        for resource in synth.resources.values()
        if references(resource.get("Properties", {})) & public
    ]
    assert sorted(set(users)) == [
        "AWS::EC2::NatGateway",
        "AWS::EC2::SubnetRouteTableAssociation",
    ]


def test_vpc_functions_run_in_the_private_subnets_with_one_security_group(synth: Synth) -> None:
    private = _subnets_by_group(synth)["functions"]
    groups: set[str | None] = set()
    for key, logical_id in function_ids(synth).items():
        config = synth.props(logical_id).get("VpcConfig")
        if config is None:
            continue
        assert {ref_id(s) for s in config["SubnetIds"]} == private, key
        groups.update(ref_id(g) for g in config["SecurityGroupIds"])
    assert len(groups) == 1


def test_dynamodb_is_reached_through_a_gateway_endpoint(synth: Synth) -> None:
    endpoints = synth.of_type("AWS::EC2::VPCEndpoint").values()
    services = [flatten(e["Properties"]["ServiceName"]) for e in endpoints]
    assert any(s.endswith(".dynamodb") for s in services)
    assert all(e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway" for e in endpoints)


def test_vpc_keeps_flow_logs(synth: Synth) -> None:
    assert len(synth.of_type("AWS::EC2::FlowLog")) == 1


def _replication_group(synth: Synth) -> dict[str, Any]:
    (group,) = synth.of_type("AWS::ElastiCache::ReplicationGroup").values()
    return group["Properties"]


def test_cache_requires_tls_and_an_auth_token_from_a_generated_secret(synth: Synth) -> None:
    group = _replication_group(synth)
    assert group["Engine"] in ("valkey", "redis")
    assert group["TransitEncryptionEnabled"] is True
    assert group["AtRestEncryptionEnabled"] is True
    token = flatten(group["AuthToken"])
    assert token.startswith("{{resolve:secretsmanager:<") and "Auth" in token
    secret_id = token.split("<")[1].split(">")[0]
    generated = synth.props(secret_id)["GenerateSecretString"]
    assert generated["ExcludePunctuation"] is True
    assert "SecretStringTemplate" not in generated  # a plain string, as the functions read it


def test_cache_lives_in_the_isolated_subnets(synth: Synth) -> None:
    group = _replication_group(synth)
    (subnet_group,) = synth.of_type("AWS::ElastiCache::SubnetGroup").values()
    assert ref_id(group["CacheSubnetGroupName"]) in synth.of_type("AWS::ElastiCache::SubnetGroup")
    subnets = {ref_id(s) for s in subnet_group["Properties"]["SubnetIds"]}
    assert subnets == _subnets_by_group(synth)["cache"]


def test_cache_admits_only_the_function_security_group_on_its_port(synth: Synth) -> None:
    group = _replication_group(synth)
    (cache_sg,) = [ref_id(g) for g in group["SecurityGroupIds"]]
    assert not synth.props(str(cache_sg)).get("SecurityGroupIngress")
    rules = [
        r["Properties"]
        for r in synth.of_type("AWS::EC2::SecurityGroupIngress").values()
        if ref_id(r["Properties"]["GroupId"]) == cache_sg
    ]
    function_sg = {
        ref_id(g)
        for logical_id in function_ids(synth).values()
        for g in synth.props(logical_id).get("VpcConfig", {}).get("SecurityGroupIds", [])
    }
    assert len(rules) == 1
    (rule,) = rules
    assert {ref_id(rule["SourceSecurityGroupId"])} == function_sg
    assert rule["IpProtocol"] == "tcp"
    assert rule["FromPort"] == rule["ToPort"] == group["Port"]


def test_no_security_group_admits_traffic_from_the_internet(synth: Synth) -> None:
    ingress = [
        rule
        for sg in synth.of_type("AWS::EC2::SecurityGroup").values()
        for rule in sg["Properties"].get("SecurityGroupIngress", [])
    ] + [r["Properties"] for r in synth.of_type("AWS::EC2::SecurityGroupIngress").values()]
    assert ingress, "the cache's ingress rule should be found"
    for rule in ingress:
        assert "CidrIp" not in rule and "CidrIpv6" not in rule, rule


def test_history_table_keys_ttl_recovery_and_encryption(synth: Synth) -> None:
    (table,) = synth.of_type("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "userId", "KeyType": "HASH"},
        {"AttributeName": "turnKey", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "userId": "S",
        "turnKey": "S",
    }
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert table["DeletionPolicy"] == "Retain"  # the cdk.json default keeps users' history
