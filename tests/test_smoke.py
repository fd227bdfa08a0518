import pytest


@pytest.mark.django_db
def test_requester_opens_ticket_and_agent_resolves_it(world, api):
    requester = api(world.requester)
    response = requester.post(
        "tickets", {"desk": "it", "title": "VPN down", "impact": "high", "urgency": "high"}
    )
    assert response.status_code == 201, response.content
    ticket = response.json()
    assert ticket["ref"] == "IT-000001"
    assert ticket["priority"] == 1
    agent = api(world.agent)
    response = agent.post(
        f"tickets/{ticket['ref']}/resolve", {"resolution": "Restarted the concentrator."}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    response = api(world.outsider).get(f"tickets/{ticket['ref']}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
