"""The SDK's per-call handlers sesd's SQS clients leave out (sesd.io.sdk_calls): a
request is the same but for the two retry headers the SDK adds after signing, its
receive's and delete's answers are read by sesd's hook, it is answered, and no other
client of the session loses them. moto's SQS."""

from __future__ import annotations

import copy
from typing import Any

import botocore.session
from aiobotocore.parsers import create_parser

from sesd.commands.demo.localsqs import LocalSqs
from sesd.io.sdk_calls import trim_sqs
from sesd.runtime.aws import sqs_config
from tests.conftest import aws_client, make_queue

_RETRY_HEADERS = {"amz-sdk-invocation-id", "amz-sdk-request"}


def _signed(headers: dict[str, Any]) -> str:
    """The headers a request's signature covers (its ``SignedHeaders``)."""
    authorization: str = headers["Authorization"].decode()
    return authorization.partition("SignedHeaders=")[2].partition(",")[0]


async def test_a_trimmed_client_sends_the_same_signed_request_without_the_retry_headers(
    local_sqs: LocalSqs, sqs: Any
) -> None:
    """Two clients of one session, with sesd's settings, receive and delete from a real
    queue; one is trimmed. Both are answered, and the trimmed one's requests carry the
    same headers, signed alike, but the SDK's two retry headers; the other client,
    not trimmed, still sends them (each client has its own hooks). The trimmed client's
    answers, system attributes and escaped text in them, are what the SDK's own parse
    makes of the same bytes."""
    url, _ = await make_queue(sqs)
    # Text SQS's JSON escapes (quotes, a control character, beyond the BMP), and a
    # system attribute besides the ones every message has.
    for body in ('{"Message": "caf\u00e9 \\"q\\" \\u0007"}', "\U0001f600\t\x7f"):
        await sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageSystemAttributes={
                "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5e-1"}
            },
        )
    sent: dict[str, list[dict[str, Any]]] = {"trimmed": [], "as made": []}
    #: Each call's raw answer (rebuilt from the HTTP response) and its parsed result.
    answered: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    #: Whether the receive's answer reached the SDK's parse whole (after the hooks).
    whole: dict[str, list[bool]] = {"trimmed": [], "as made": []}
    async with (
        aws_client("sqs", local_sqs, sqs_config(2)) as trimmed,
        aws_client("sqs", local_sqs, sqs_config(2)) as made,
    ):
        trim_sqs(trimmed)
        trim_sqs(trimmed)  # the pollers of a client each ask: again changes nothing
        service_model = trimmed.meta.service_model
        trimmed.meta.events.register(
            "response-received.sqs",
            lambda response_dict, parsed_response, **_: answered.append(
                (
                    response_dict["context"]["operation_name"],
                    response_dict,
                    copy.deepcopy(parsed_response),
                )
            ),
        )
        for name, client in (("trimmed", trimmed), ("as made", made)):
            client.meta.events.register(
                "before-send.sqs",
                lambda request, _name=name, **_: sent[_name].append(dict(request.headers)),
            )
            for operation in ("ReceiveMessage", "DeleteMessageBatch"):
                client.meta.events.register_last(
                    f"before-parse.sqs.{operation}",
                    lambda response_dict, _name=name, **_: whole[_name].append(
                        bool(response_dict["body"])
                    ),
                )
            answer = await client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
            )
            assert "AWSTraceHeader" in answer["Messages"][0]["Attributes"]
            (message,) = answer["Messages"]
            entries = [{"Id": "0", "ReceiptHandle": message["ReceiptHandle"]}]
            deleted = await client.delete_message_batch(QueueUrl=url, Entries=entries)
            assert [e["Id"] for e in deleted["Successful"]] == ["0"]
    assert len(sent["trimmed"]) == len(sent["as made"]) == 2
    # The trimmed client's receive and delete were read by sesd's hook
    # (sesd.io.sqs_answers), and answered the same (above); the other client's were
    # left to the SDK.
    assert whole == {"trimmed": [False, False], "as made": [True, True]}
    # What the hook read is what the SDK's own parse makes of the same bytes.
    assert [operation for operation, _, _ in answered] == ["ReceiveMessage", "DeleteMessageBatch"]
    for operation, response_dict, parsed in answered:
        shape = service_model.operation_model(operation).output_shape
        own = create_parser("json").parse(response_dict, shape)
        assert parsed == await own
    for trimmed_headers, made_headers in zip(sent["trimmed"], sent["as made"], strict=True):
        assert set(made_headers) - set(trimmed_headers) == _RETRY_HEADERS
        assert set(trimmed_headers) <= set(made_headers)
        assert _signed(trimmed_headers) == _signed(made_headers)
        assert not _RETRY_HEADERS & set(_signed(made_headers).split(";"))


def test_no_sqs_operation_has_what_the_handlers_left_out_would_write() -> None:
    """Two of the handlers left out write only an idempotency token an operation's
    model asks for, and an endpoint-discovery operation's version header: in the SDK's
    SQS model no operation has either, so on every SQS call they did nothing."""
    model = botocore.session.get_session().get_service_model("sqs")
    operations = [model.operation_model(name) for name in model.operation_names]
    assert "ReceiveMessage" in model.operation_names
    assert [o.name for o in operations if o.idempotent_members] == []
    assert [o.name for o in operations if o.is_endpoint_discovery_operation] == []
