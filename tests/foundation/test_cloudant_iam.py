"""IBM Cloudant IAM: the API key is exchanged at a token endpoint (here a local stand-in for IBM's) and the bearer
token renewed before it expires. The server is a real Apache CouchDB that checks the tokens itself (its JWT
authentication handler, trusting the stand-in's signing key), so an expired or missing token is refused."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
import pytest
from click.testing import CliRunner
from waiting import wait_until

import cli
from bookkeeper.config import load_config
from bookkeeper.couch import Couch
from bookkeeper.embedded import connect
from bookkeeper.servers import CouchDBServer, launcher_available

pytestmark = pytest.mark.slow

KEY = b"iam-stand-in-signing-key-0123456789"
APIKEY = "test-api-key"


class TokenEndpoint:
    """IBM IAM's `POST /identity/token` (grant type apikey): JWTs that expire after `lifetime` seconds."""

    def __init__(self, lifetime: int):
        self.lifetime, self.issued = lifetime, 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                if form.get("apikey") != [APIKEY] or form.get("grant_type") != [
                    "urn:ibm:params:oauth:grant-type:apikey"
                ]:
                    return self._answer(400, {"errorCode": "BXNIM0415E", "errorMessage": "API key not found"})
                endpoint.issued += 1
                now = int(time.time())
                token = jwt.encode(
                    {"sub": "iam-user", "iat": now, "exp": now + endpoint.lifetime, "_couchdb.roles": ["_admin"]},
                    KEY,
                    algorithm="HS256",
                )
                self._answer(
                    200,
                    {
                        "access_token": token,
                        "refresh_token": "not-used",
                        "token_type": "Bearer",
                        "expires_in": endpoint.lifetime,
                        "expiration": now + endpoint.lifetime,
                    },
                )

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/identity/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@dataclass(frozen=True)
class JwtCouch:
    bare_url: str  # no credentials: the token is the only way in
    admin: Couch


@pytest.fixture(scope="module")
def jwt_couch(tmp_path_factory):
    """An Apache CouchDB node that accepts JWTs signed with KEY (its admin stays for the test's own checks)."""
    if not launcher_available():
        pytest.skip("needs Apache CouchDB's JWT handler: no CouchDB launcher here (docs/operations.md)")
    node = CouchDBServer(tmp_path_factory.mktemp("couchdb-jwt")).start()
    admin = Couch(node.url, retries=3)
    for (section, key), value in {
        ("chttpd", "authentication_handlers"): "{chttpd_auth, jwt_authentication_handler}, "
        "{chttpd_auth, cookie_authentication_handler}, {chttpd_auth, default_authentication_handler}",
        ("jwt_keys", "hmac:_default"): base64.b64encode(KEY).decode(),
        ("jwt_auth", "required_claims"): "exp",
    }.items():
        admin.json("PUT", f"_node/_local/_config/{section}/{key}", body=value)
    node.kill(1)  # the authentication handlers are read at start-up: restart on the saved configuration
    node.revive(1)
    # `_up` answers before a busy node's authentication is ready (HTTP 500 for a while): wait for a token to pass
    wait_until(lambda: _admits_tokens(node.port), 120, what="CouchDB's JWT handler after the restart")
    yield JwtCouch(f"http://127.0.0.1:{node.port}", admin)
    node.stop()


def _admits_tokens(port: int) -> bool:
    """Whether the node at `port` takes a bearer token signed with KEY as its subject."""
    now = int(time.time())
    token = jwt.encode({"sub": "iam-user", "iat": now, "exp": now + 60, "_couchdb.roles": ["_admin"]}, KEY, "HS256")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/_session", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)["userCtx"]["name"] == "iam-user"
    except (OSError, ValueError, KeyError):
        return False


@pytest.fixture
def tokens(request):
    """A token endpoint; its tokens' lifetime is the test's `lifetime` mark (default one hour)."""
    mark = request.node.get_closest_marker("lifetime")
    endpoint = TokenEndpoint(lifetime=mark.args[0] if mark else 3600)
    yield endpoint
    endpoint.httpd.shutdown()


def test_the_cli_works_with_an_iam_api_key_alone(jwt_couch, tokens, tmp_path):
    env = {
        "BOOKKEEPER_COUCH_URL": jwt_couch.bare_url,
        "BOOKKEEPER_COUCH_IAM_APIKEY": APIKEY,
        "BOOKKEEPER_COUCH_IAM_URL": tokens.url,
        "BOOKKEEPER_NAMESPACE": "iam-",
        "BOOKKEEPER_VAR_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(cli.main, ["views", "install"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert tokens.issued == 1
    assert jwt_couch.admin.db("iam-bookkeeper").exists()


@pytest.mark.lifetime(12)
def test_tokens_are_renewed_before_they_expire(jwt_couch, tokens, tmp_path):
    """The token manager takes a token as spent 10 s before its `exp` (IBM's window), so 12 s tokens are renewed
    about every 2 s; past the first token's `exp` the server would refuse it, so the requests prove the renewal."""
    couch = connect(
        load_config(
            env={}, couch_url=jwt_couch.bare_url, couch_iam_apikey=APIKEY, couch_iam_url=tokens.url, var_dir=tmp_path
        )
    )
    deadline = time.monotonic() + 14
    while time.monotonic() < deadline:
        assert couch.json("GET", "_session")["userCtx"]["name"] == "iam-user"
        time.sleep(0.25)  # on purpose: requests spread over more than a token's lifetime
    assert 5 <= tokens.issued <= 9


def test_a_refused_api_key_is_one_line_and_exit_2(jwt_couch, tokens, tmp_path):
    env = {
        "BOOKKEEPER_COUCH_URL": jwt_couch.bare_url,
        "BOOKKEEPER_COUCH_IAM_APIKEY": "wrong",
        "BOOKKEEPER_COUCH_IAM_URL": tokens.url,
        "BOOKKEEPER_VAR_DIR": str(tmp_path),
    }
    result = CliRunner().invoke(cli.main, ["views", "install"], env=env)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: CouchDB at {jwt_couch.bare_url.rstrip('/')} refused the credentials: no IAM token from {tokens.url}: "
        "HTTP 400 API key not found"
    ]
