"""``amalia serve`` refuses what it must before it loads anything."""

from __future__ import annotations

import socket

from server_helpers import serve_env, start_server, stop_server


def test_refuses_another_address_without_a_key(amalia, tiny_model):
    result = amalia("serve", str(tiny_model), "--host", "0.0.0.0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "without an API key" in result.stderr and "--api-key" in result.stderr


def test_port_in_use_is_one_line(amalia, tiny_model):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = amalia("serve", str(tiny_model), "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in result.stderr


def test_key_from_the_environment_allows_other_addresses(tiny_model, tmp_path):
    env = {**serve_env(tmp_path / "home"), "AMALIA_API_KEY": "k"}
    # Listening on all addresses, reached on loopback; a 401 without the key.
    server = start_server(
        [str(tiny_model), "--host", "0.0.0.0", "--port", "0", "--ctx", "256"],
        env,
        tmp_path / "stderr.log",
        url_host=r"0\.0\.0\.0",
    )
    try:
        import urllib.error
        import urllib.request

        url = server.url.replace("0.0.0.0", "127.0.0.1") + "/models"
        try:
            urllib.request.urlopen(url, timeout=30)
            raise AssertionError("served /v1/models without the key")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        request = urllib.request.Request(url, headers={"Authorization": "Bearer k"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
    finally:
        stop_server(server)
