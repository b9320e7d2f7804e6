"""Starting and stopping the emulator: in a thread, in the foreground, and persistence."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import httpx

from bcsync.emulator.server import start_in_thread
from bcsync.emulator.settings import EmulatorSettings


def test_start_in_thread_binds_a_free_port_and_stops(tmp_path):
    running = start_in_thread(EmulatorSettings(store_hash="abc", token="tok"))
    try:
        assert running.url.startswith("http://127.0.0.1:") and not running.url.endswith(":0")
        assert running.api_url == running.url
        assert (running.store_hash, running.token) == ("abc", "tok")
        response = httpx.get(f"{running.url}/stores/abc/v2/time", headers={"X-Auth-Token": "tok"})
        assert response.status_code == 200
    finally:
        running.stop()
    try:
        httpx.get(f"{running.url}/_emulator/stats", timeout=1)
        raise AssertionError("still serving after stop()")
    except httpx.TransportError:
        pass


def test_data_file_survives_a_restart(tmp_path):
    data_file = tmp_path / "store.json"
    settings = EmulatorSettings(store_hash="abc", token="tok", data_file=str(data_file))
    first = start_in_thread(settings)
    with httpx.Client(base_url=first.store_url, headers={"X-Auth-Token": "tok"}) as client:
        client.post("/v3/customers/attributes", json=[{"name": "Tier", "type": "string"}])
        client.post(
            "/v3/customers",
            json=[{"email": "a@example.com", "first_name": "A", "last_name": "B",
                   "attributes": [{"attribute_id": 1, "attribute_value": "gold"}]}],
        )  # fmt: skip
    first.stop()
    assert "a@example.com" in data_file.read_text()
    second = start_in_thread(
        EmulatorSettings(store_hash="abc", token="tok", data_file=str(data_file))
    )
    try:
        dump = httpx.get(f"{second.url}/_emulator/dump").json()
        assert [c["email"] for c in dump["customers"]] == ["a@example.com"]
        assert dump["customers"][0]["attributes"][0]["attribute_value"] == "gold"
        with httpx.Client(base_url=second.store_url, headers={"X-Auth-Token": "tok"}) as client:
            again = client.post(
                "/v3/customers",
                json=[{"email": "b@example.com", "first_name": "B", "last_name": "C"}],
            )
        assert again.json()["data"][0]["id"] == 2
    finally:
        second.stop()


def test_serve_reports_its_url_and_stops_on_sigterm(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        from bcsync.emulator.server import serve
        from bcsync.emulator.settings import EmulatorSettings
        def ready(url):
            print(url, flush=True)
        serve(EmulatorSettings(data_file=sys.argv[1]), port=0, on_ready=ready)
        print("stopped", flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "data.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/_emulator/stats").status_code == 200
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert json.loads((tmp_path / "data.json").read_text())["customers"]["rows"] == []
