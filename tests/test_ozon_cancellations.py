"""Ozon conditional cancellations (an rFBS buyer asks to cancel) over real HTTP, both ways
against the contract: every request the adapter sends and every answer the simulator
gives is validated (tests.test_ozon's Contract hook) against the shapes of Ozon's
CancellationAPI as its public clients give them (the spec file lacks these paths)."""
import pytest
import requests

from fulfil.marketplaces.base import APPLIED, NOT_APPLIED, Permanent
from tests.test_ozon import NOT_IN_SPEC, adapter, checked_session, contract, make_adapter, spec  # noqa: F401

pytestmark = pytest.mark.integration

STATE = {"type": "string", "enum": ["ON_APPROVAL", "APPROVED", "REJECTED"]}
CANCELLATION = {
    "type": "object",
    "required": ["cancellation_id", "posting_number", "cancellation_reason", "cancellation_initiator",
                 "cancelled_at", "state", "auto_approve_date"],
    "properties": {
        "cancellation_id": {"type": "integer"}, "posting_number": {"type": "string"},
        "cancellation_reason": {"type": "object", "required": ["id", "name"],
                                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
        "cancellation_reason_message": {"type": "string"},
        "cancellation_initiator": {"type": "string", "enum": ["CLIENT", "SELLER", "OZON", "SYSTEM", "DELIVERY"]},
        "cancelled_at": {"type": "string", "format": "date-time"},
        "state": {"type": "object", "required": ["id", "name", "state"],
                  "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "state": STATE}},
        "auto_approve_date": {"type": "string", "format": "date-time"},
        "approve_comment": {"type": "string"},
        "approve_date": {"type": "string", "format": "date-time", "nullable": True},
        "order_date": {"type": "string", "format": "date-time", "nullable": True},
        "tpl_integration_type": {"type": "string", "nullable": True}}}
MOVE_REQUEST = {"type": "object", "required": ["cancellation_id"], "additionalProperties": False,
                "properties": {"cancellation_id": {"type": "integer"}, "comment": {"type": "string"}}}
CANCELLATION_CONTRACT = {
    "/v1/conditional-cancellation/list": (
        {"type": "object", "required": ["limit"], "additionalProperties": False, "properties": {
            "filters": {"type": "object", "additionalProperties": False, "properties": {
                "state": {"type": "string", "enum": ["ALL", "ON_APPROVAL", "APPROVED", "REJECTED"]},
                "posting_number": {"type": "array", "items": {"type": "string"}},
                "cancellation_initiator": {"type": "array", "items": {"type": "string"}}}},
            "limit": {"type": "integer", "minimum": 1, "maximum": 500},
            "offset": {"type": "integer", "minimum": 0},
            "with": {"type": "object", "properties": {"counter": {"type": "boolean"}}}}},
        {"type": "object", "required": ["result", "total"], "properties": {
            "result": {"type": "array", "items": CANCELLATION}, "total": {"type": "integer"},
            "counters": {"type": "object", "properties": {
                name: {"type": "integer"} for name in ("on_approval", "approved", "rejected")}}}}),
    "/v1/conditional-cancellation/approve": (MOVE_REQUEST, {"type": "object"}),
    "/v1/conditional-cancellation/reject": (MOVE_REQUEST, {"type": "object"}),
}
NOT_IN_SPEC.update(CANCELLATION_CONTRACT)


def rfbs_posting(ozon_sim):
    return ozon_sim.generate(1, scheme="rfbs", status="awaiting_packaging")[0]


def ask_to_cancel(ozon_sim, number):
    ozon_sim.admin("POST", "/events", json={"order_id": number, "event": "request_cancellation"})


def test_a_buyers_request_is_listed_with_its_48_hour_clock(ozon_sim, adapter, contract):
    number = rfbs_posting(ozon_sim)
    ask_to_cancel(ozon_sim, number)
    found, problems = adapter.list_cancellations("ON_APPROVAL")
    assert problems == [] and len(found) == 1
    request = found[0]
    assert request.posting_number == number and request.state == "ON_APPROVAL" and request.initiator == "CLIENT"
    assert round((request.auto_approve_at - request.requested_at).total_seconds() / 3600) == 48
    assert contract.checked["/v1/conditional-cancellation/list"] == 1


def test_approving_cancels_the_posting_and_a_repeat_is_refused_but_read_back_as_applied(ozon_sim, adapter):
    number = rfbs_posting(ozon_sim)
    ask_to_cancel(ozon_sim, number)
    (request,), _ = adapter.list_cancellations("ON_APPROVAL")
    payload = {"external_id": number, "cancellation_id": request.cancellation_id, "comment": ""}
    assert adapter.check("approve_cancellation", payload) == NOT_APPLIED
    adapter.push("approve_cancellation", payload)
    assert adapter.get_order(number).status == "cancelled"
    assert adapter.check("approve_cancellation", payload) == APPLIED
    with pytest.raises(Permanent, match="CANCELLATION_IS_NOT_ON_APPROVAL"):
        adapter.push("approve_cancellation", payload)
    assert [w["call"] for w in ozon_sim.writes(number)] == ["conditional-cancellation/approve"]


def test_rejecting_keeps_the_posting_and_needs_a_comment(ozon_sim, adapter):
    number = rfbs_posting(ozon_sim)
    ask_to_cancel(ozon_sim, number)
    (request,), _ = adapter.list_cancellations("ON_APPROVAL")
    payload = {"external_id": number, "cancellation_id": request.cancellation_id, "comment": ""}
    with pytest.raises(Permanent, match="comment is required"):
        adapter.push("reject_cancellation", payload)
    adapter.push("reject_cancellation", {**payload, "comment": "Already handed to the carrier"})
    assert adapter.get_order(number).status != "cancelled"
    assert adapter.check("reject_cancellation", payload) == APPLIED
    assert adapter.check("approve_cancellation", payload) == NOT_APPLIED
    (decided,), _ = adapter.list_cancellations("ALL", [number])
    assert decided.state == "REJECTED" and decided.decision_comment == "Already handed to the carrier"
    assert adapter.list_cancellations("ON_APPROVAL")[0] == []


def test_an_undecided_request_past_its_date_is_approved_automatically(ozon_sim, adapter):
    number = rfbs_posting(ozon_sim)
    ask_to_cancel(ozon_sim, number)
    (request,), _ = adapter.list_cancellations("ON_APPROVAL")
    ozon_sim.admin("POST", f"/ozon/cancellations/{request.cancellation_id}/due", json={"hours": -0.01})
    (decided,), _ = adapter.list_cancellations("ALL", [number])
    assert decided.state == "APPROVED" and decided.decided_at is not None
    assert adapter.get_order(number).status == "cancelled"


def test_only_rfbs_postings_take_a_request(ozon_sim):
    number = ozon_sim.generate(1, scheme="fbs", status="awaiting_packaging")[0]
    response = requests.post(ozon_sim.url + "/_sim/events", json={"order_id": number, "event": "request_cancellation"},
                             timeout=10)
    assert response.status_code == 400


@pytest.mark.parametrize("body, message", [
    ({"filters": {"state": "ON_APPROVAL"}, "limit": 501, "offset": 0}, "limit must be 1 to 500"),
    ({"filters": {"state": "MAYBE"}, "limit": 10}, "filters.state must be"),
    ({"filters": {"posting_number": "1-1"}, "limit": 10}, "filters.posting_number must list"),
])
def test_the_simulator_refuses_lists_outside_the_contract(ozon_sim, body, message):
    response = requests.post(ozon_sim.url + "/v1/conditional-cancellation/list", json=body, timeout=10,
                             headers={"Client-Id": ozon_sim.module.DEFAULT_CREDENTIALS["client_id"],
                                      "Api-Key": ozon_sim.module.DEFAULT_CREDENTIALS["api_key"]})
    assert response.status_code == 400 and message in response.json()["message"]


def test_the_simulator_refuses_a_decision_without_an_integer_id(ozon_sim, adapter):
    with pytest.raises(Permanent, match="CANCELLATION_NOT_FOUND"):
        adapter.push("approve_cancellation", {"external_id": "1-1", "cancellation_id": 123, "comment": ""})
    response = requests.post(ozon_sim.url + "/v1/conditional-cancellation/approve",
                             json={"cancellation_id": "7000001"}, timeout=10,
                             headers={"Client-Id": ozon_sim.module.DEFAULT_CREDENTIALS["client_id"],
                                      "Api-Key": ozon_sim.module.DEFAULT_CREDENTIALS["api_key"]})
    assert response.status_code == 400 and "cancellation_id must be an integer" in response.json()["message"]
