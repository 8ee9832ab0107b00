"""Test set-up of the example DAG: a throw-away Airflow home (SQLite) and a private moto server.

The Airflow settings are environment variables set here, before anything imports Airflow. moto's
server is the one `scripts/tools.sh test` installs into .tools/venv (or $MDLC_MOTO_SERVER); this
suite starts its own on loopback rather than using the shared one of `scripts/with-servers.sh`,
because it switches moto's Step Functions to executing state machines
(`{"stepfunctions": {"execute_state_machine": true}}`), a server-wide setting that would move
every other test's state machines out of sight. Missing tools fail the tests, never skip them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DAGS = HERE.parent / "dags"
REPO = HERE.parents[2]
REGION = "us-east-1"

_home = Path(tempfile.mkdtemp(prefix="mdlc-airflow-home."))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Creates the metadata database (SQLite in the temporary AIRFLOW_HOME)."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True
    )
    assert done.returncode == 0, f"airflow db migrate failed:\n{done.stdout}\n{done.stderr}"
    return _home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"moto did not answer {url} within {seconds} s; its log:\n{log.read_text()}")


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory) -> str:
    """A moto server on loopback that executes state machines; its endpoint URL."""
    server = Path(os.environ.get("MDLC_MOTO_SERVER", REPO / ".tools/venv/bin/moto_server"))
    if not server.exists():
        pytest.fail(f"{server} is missing: run scripts/tools.sh test (or set MDLC_MOTO_SERVER)")
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{endpoint}/moto-api/", 30, log)
        request = urllib.request.Request(
            f"{endpoint}/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
        )
        urllib.request.urlopen(request, timeout=5)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def aws(moto_endpoint, monkeypatch):
    """The Airflow connection `aws_default` pointing at moto, and boto3 clients for the set-up."""
    import boto3

    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"region_name": REGION, "endpoint_url": moto_endpoint},
            }
        ),
    )

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=moto_endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client
