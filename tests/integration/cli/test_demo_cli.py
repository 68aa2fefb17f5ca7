"""``vgw demo load`` creates usable demo data through the services, and can run twice."""

from sqlalchemy import func, select

from gateway import store
from gateway.store.models import Client, Project, Team


def test_demo_load_twice(store_app, tmp_path):
    runner = store_app.test_cli_runner()
    token_file = tmp_path / "token.txt"
    for _ in range(2):
        result = runner.invoke(args=["demo", "load", "--token-file", str(token_file)])
        assert result.exit_code == 0, result.output
    with store.session_scope(store_app) as session:
        assert session.execute(select(func.count()).select_from(Team)).scalar() == 1
        assert session.execute(select(Team.status)).scalar() == "1"
        assert session.execute(select(func.count()).select_from(Project)).scalar() == 1
        assert session.execute(select(Client.client_id)).scalar() == "demo-portal"
    token = token_file.read_text().strip()
    answer = store_app.test_client().get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.get_json()["total"] == 1
