"""The embedded CouchDB-compatible server: PouchDB Server, pinned in `embedded/package.json`.

`start` runs it on 127.0.0.1 (data in `var/couch/`, or in memory), waits until it answers and records its pid;
`stop` stops only the process that pid file names. It runs through `embedded/pouchdb-server.js`, which makes the
server's per-request database lookup O(1) instead of O(number of databases) and changes nothing else. Node runs
with `--unhandled-rejections=warn` (without it one bad request crashes the server on Node 20) and a 64 MB young
generation (`--max-semi-space-size`: with thousands of in-memory databases the default 16 MB made garbage
collection a large part of every request) and an 8 GB heap limit (`--max-old-space-size`: the
in-memory server holding 30,000 databases outgrows Node's default of about 4 GB). The server logs warnings and
errors, not every request.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from .cloudant import IAMAuth
from .config import PROJECT_ROOT, Config
from .couch import Couch
from .errors import BookkeeperError

SERVER_BIN = PROJECT_ROOT / "embedded" / "node_modules" / "pouchdb-server" / "lib" / "index.js"
LAUNCHER = PROJECT_ROOT / "embedded" / "pouchdb-server.js"
NODE_OPTIONS = "--unhandled-rejections=warn --max-semi-space-size=64 --max-old-space-size=8192"


class ServerError(BookkeeperError):
    """The embedded server could not be started, found or stopped."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return requests.get(url, timeout=timeout).ok
    except requests.RequestException:
        return False


@dataclass
class EmbeddedServer:
    """One PouchDB Server process on `port`, its files under `var_dir`."""

    var_dir: Path
    port: int = 5984
    in_memory: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.var_dir / "run" / f"couch-{self.port}.pid"

    @property
    def log_file(self) -> Path:
        return self.var_dir / "log" / f"couch-{self.port}.log"

    def pid(self) -> int | None:
        """The pid of the server we started, if it is still running."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if b"pouchdb-server" in cmdline else None

    def status(self) -> dict:
        return {
            "url": self.url,
            "pid": self.pid(),
            "answers": answers(self.url),
            "in_memory": self.in_memory,
            "data_dir": None if self.in_memory else str(self.data_dir),
        }

    @property
    def data_dir(self) -> Path:
        return self.var_dir / "couch"

    def start(self, wait: float = 60.0) -> EmbeddedServer:
        """Start the server unless ours already runs; wait until it answers."""
        if self.pid() and answers(self.url):
            return self
        if answers(self.url):
            raise ServerError(f"port {self.port} is taken by another server; choose another with --port")
        if not SERVER_BIN.exists():
            raise ServerError(
                "the embedded server is not installed (a checkout's scripts/setup installs it); "
                "set BOOKKEEPER_COUCH_URL to your CouchDB"
            )
        for d in (self.data_dir, self.log_file.parent, self.pid_file.parent):
            d.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / f"config-{self.port}.json"
        try:  # what the server keeps there (its admins, set through /_config) survives a restart
            kept = json.loads(config.read_text())
        except (OSError, ValueError):
            kept = {}
        kept = kept if isinstance(kept, dict) else {}
        kept["log"] = {"file": str(self.var_dir / "log" / f"couch-{self.port}-server.log"), "level": "warning"}
        config.write_text(json.dumps(kept))
        args = [
            "node",
            str(LAUNCHER),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--config",
            str(config),
            "--no-stdout-logs",
        ]
        args += ["--in-memory"] if self.in_memory else ["--dir", str(self.data_dir)]
        env = {**os.environ, "NODE_OPTIONS": NODE_OPTIONS}
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(
                args,
                cwd=self.data_dir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerError(f"the server exited with code {proc.returncode}; see {self.log_file}")
            if answers(self.url, timeout=0.5):
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"the server did not answer on {self.url} within {wait:.0f}s; see {self.log_file}")

    def stop(self, wait: float = 15.0) -> bool:
        """Stop the server this pid file names; False if it was not running."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return True


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def connect(config: Config) -> Couch:
    """The CouchDB to use: `config.couch_url` (with IBM Cloudant IAM when an API key is set), else the embedded
    server (started if it is not running)."""
    url = config.url_with_credentials()
    if url is None:
        url = EmbeddedServer(config.var_dir, config.embedded_port).start().url
    auth = IAMAuth(config.couch_iam_apikey, config.couch_iam_url) if config.couch_iam_apikey else None
    return Couch(url, namespace=config.namespace, auth=auth)
