"""``vgw demo load`` creates usable demo data through the services, and can run twice."""

from sqlalchemy import func, select

from gateway import store
from gateway.store.models import Client, Project, Team


def test_demo_load_twice(store_app, tmp_path):
    store_app.instance_path = str(tmp_path)       # the console's demo files stay out of the tree
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


def test_demo_load_gives_a_console_login_and_sources_to_see(store_app, tmp_path):
    from tests.integration.console.helpers import login

    store_app.instance_path = str(tmp_path)       # demo-admin.txt and the demo sheet go here
    runner = store_app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["demo", "load", "--token-file", str(tmp_path / "t.txt")])
        assert result.exit_code == 0, result.output
    assert "demo-admin" in result.output and str(tmp_path / "demo-admin.txt") in result.output
    password = (tmp_path / "demo-admin.txt").read_text().split("password: ")[1].strip()
    client = store_app.test_client()
    assert login(client, "demo-admin", password).status_code == 302
    page = client.get("/console/").data.decode()
    assert "demo-chaoyang-sheet" in page and "demo-zyh365-jiangsu" in page
    dead = client.get("/console/dead-letters").data.decode()
    assert dead.count("citizen_id.checksum") == 1     # the one broken row of the sheet
