"""A private RabbitMQ node for tests, benchmarks and development (Debian's `rabbitmq-server`).

Each node gets its own free ports (AMQP, Erlang distribution, and its own epmd), its own node name, data and log
directories, config file, Erlang cookie (`HOME` is its directory) and no plugins, so it collides neither with a
system RabbitMQ nor with a CouchDB node on the same machine. `stop` ends the node and its epmd, by pid.
`restart` keeps the data directory (a broker restart as production sees one).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..embedded import free_port
from ..errors import BookkeeperError

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
INSTALL_HINT = "install it with `apt-get install rabbitmq-server` (as root; scripts/setup does when it can)"


class BrokerError(BookkeeperError):
    """The local RabbitMQ could not be found, started or stopped."""


def installed() -> bool:
    return Path(SERVER).exists() and shutil.which("epmd") is not None


@dataclass
class LocalBroker:
    """One RabbitMQ node under `base` (created), on free ports picked at construction."""

    base: Path
    port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    node: str = field(default_factory=lambda: f"bk{uuid.uuid4().hex[:8]}@localhost")
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.base),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(self.base / "rabbit.pid"),
            RABBITMQ_LOGS="-",
        )
        return env

    def start(self, timeout: float = 60.0) -> LocalBroker:
        """Start the node (on its existing data, if any) and wait until it accepts AMQP connections."""
        if not installed():
            raise BrokerError(f"RabbitMQ is not installed ({SERVER} missing): {INSTALL_HINT}")
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "rabbitmq.conf").write_text(
            "loopback_users = none\nlog.console = true\nlog.console.level = warning\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        with open(self.base / "server.log", "ab") as log:  # the server holds its own descriptor
            self.process = subprocess.Popen(
                [SERVER],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(f"RabbitMQ exited with {self.process.returncode}; see {self.base / 'server.log'}")
            if self._accepts():
                return self
            time.sleep(0.2)
        self.stop()
        raise BrokerError(f"RabbitMQ did not accept connections on port {self.port} within {timeout:.0f} s")

    def _accepts(self) -> bool:
        """The AMQP listener answers the protocol header with a connection.start frame."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"AMQP\x00\x00\x09\x01")
                return s.recv(1)[:1] == b"\x01"
        except OSError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node (SIGTERM to its process group, SIGKILL after `timeout`), then its epmd."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        subprocess.run(
            ["epmd", "-port", str(self.epmd_port), "-kill"],
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )

    def ctl(self, *args: str) -> str:
        """Run `rabbitmqctl` against this node; its output."""
        done = subprocess.run(
            [CTL, "-n", self.node, "-q", *args], env=self._env(), capture_output=True, text=True, timeout=60
        )
        if done.returncode:
            raise BrokerError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def close_connections(self, name: str) -> int:
        """Close, from the broker's side, the client connections named `name` (AMQP `connection_name`)."""
        closed = 0
        for line in self.ctl("list_connections", "--no-table-headers", "pid", "client_properties").splitlines():
            pid, _, properties = line.partition("\t")
            if f'{{"connection_name","{name}"}}' in properties:
                self.ctl("close_connection", pid.strip(), "closed by a test")
                closed += 1
        return closed

    def restart(self) -> LocalBroker:
        self.stop()
        return self.start()
