"""Debian's nginx in front of app instances, with the project's deploy/nginx/conf.d, for the proxy test.

The project's files are used as they are, with only what must differ on a test machine templated:
the upstream addresses (``app1:8000``, ``app2:8000`` → local ports), the listen ports, the certificate
and log directories. Each substitution must match exactly as often as expected, so a change to the
deployed configuration that the test would silently stop covering fails here instead. nginx runs in the
foreground (``daemon off``) with its pid, temp files and logs in the test's directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import re
import signal
import ssl
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NGINX = "/usr/sbin/nginx"
CONF_D = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "conf.d"
UPSTREAMS = ("app1:8000", "app2:8000")
READY_DEADLINE_S = 15.0


def require_nginx() -> None:
    """Skip without Debian's nginx (``apt-get install nginx``); under CI that is a failure."""
    if os.access(NGINX, os.X_OK):
        return
    reason = f"{NGINX} is not installed (apt-get install nginx)"
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def self_signed(certs: Path) -> ssl.SSLContext:
    """fullchain.pem and privkey.pem for 127.0.0.1 in ``certs``; returns a client context trusting only it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minimaria test proxy")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certs.mkdir(parents=True, exist_ok=True)
    (certs / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (certs / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
    ))
    (certs / "privkey.pem").chmod(0o600)
    return ssl.create_default_context(cafile=str(certs / "fullchain.pem"))


def _sub(text: str, pattern: str, new: str | Callable[[re.Match[str]], str], count: int, what: str) -> str:
    out, n = re.subn(pattern, new, text)
    assert n == count, f"deploy/nginx/conf.d: expected {count} × {what}, found {n}"
    return out


class Nginx:
    """nginx with the project's conf.d, on ``http_port`` and ``https_port`` of 127.0.0.1."""

    def __init__(self, workdir: Path, app_ports: tuple[int, int], http_port: int, https_port: int) -> None:
        self.dir = workdir / "nginx"
        self.app_ports = app_ports
        self.http_port, self.https_port = http_port, https_port
        self.logs = self.dir / "logs"
        self.conf_d = self.dir / "conf.d"
        self.proc: subprocess.Popen[bytes] | None = None
        for sub in (self.logs, self.conf_d, self.dir / "temp", self.dir / "certs"):
            sub.mkdir(parents=True, exist_ok=True)
        self.tls = self_signed(self.dir / "certs")

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def write_config(self, down: tuple[int, ...] = ()) -> None:
        (self.conf_d / "upstream.conf").write_text(self.upstream(down))
        (self.conf_d / "minimaria.conf").write_text(self.server())
        (self.dir / "nginx.conf").write_text(self.main())

    def upstream(self, down: tuple[int, ...]) -> str:
        text = (CONF_D / "upstream.conf").read_text()
        for i, (name, port) in enumerate(zip(UPSTREAMS, self.app_ports, strict=True)):
            def line(m: re.Match[str], i: int = i, port: int = port) -> str:
                return f"server 127.0.0.1:{port}{m.group(1)}{' down' if i in down else ''};"
            text = _sub(text, rf"server {re.escape(name)}([^;]*);", line, 1, f"server {name}")
        return text

    def server(self) -> str:
        text = (CONF_D / "minimaria.conf").read_text()
        text = _sub(text, r"listen 80;", f"listen 127.0.0.1:{self.http_port};", 1, "listen 80")
        text = _sub(text, r"listen 443 ssl;", f"listen 127.0.0.1:{self.https_port} ssl;", 1, "listen 443 ssl")
        text = _sub(text, r"listen \[::\]:(80|443)( ssl)?;", "", 2, "listen [::]")
        for directive, name in (("ssl_certificate", "fullchain.pem"), ("ssl_certificate_key", "privkey.pem")):
            path = f"/etc/nginx/certs/{name}"
            text = _sub(text, rf"{directive}\s+{re.escape(path)};", f"{directive} {self.dir}/certs/{name};", 1, directive)
        return _sub(text, r"/var/log/nginx/", f"{self.logs}/", 4, "log path")

    def main(self) -> str:
        temp = self.dir / "temp"
        # As root, nginx would hand its workers to "nobody", who cannot write this test's temp directory.
        user = "user root root;\n" if os.geteuid() == 0 else ""
        return f"""{user}daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.logs}/main.log notice;
events {{ worker_connections 256; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    # What the official image's nginx.conf has at this level: the project's server blocks must override it.
    log_format main '$remote_addr - $remote_user [$time_local] "$request" $status "$http_user_agent"';
    access_log {self.logs}/http-level.log main;
    include {self.conf_d}/*.conf;
}}
"""

    def _args(self) -> list[str]:
        return [NGINX, "-p", f"{self.dir}/", "-c", str(self.dir / "nginx.conf"), "-e", str(self.logs / "startup.log")]

    async def start(self, down: tuple[int, ...] = ()) -> None:
        require_nginx()
        self.write_config(down)
        checked = await asyncio.to_thread(subprocess.run, [*self._args(), "-t"], capture_output=True, check=False)
        assert checked.returncode == 0, f"nginx -t refused the configuration:\n{checked.stderr.decode()}"
        self.launch()
        await self.ready()

    def launch(self) -> None:
        with (self.logs / "stdout.log").open("ab") as out:
            self.proc = subprocess.Popen(
                self._args(), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

    async def ready(self) -> None:
        """Poll /healthz through the TLS server (so through to an instance) until 200."""
        assert self.proc is not None
        deadline = time.monotonic() + READY_DEADLINE_S
        async with httpx.AsyncClient(base_url=self.base, verify=self.tls, timeout=1.0) as http:
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"nginx exited with {self.proc.returncode}:\n{self.log('stdout.log')}{self.log('main.log')}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                if time.monotonic() >= deadline:
                    pytest.fail(f"nginx did not answer /healthz within {READY_DEADLINE_S} s:\n{self.log('main.log')}")
                await asyncio.sleep(0.05)

    async def reload(self, down: tuple[int, ...] = ()) -> None:
        """New configuration, new worker; the old worker keeps its open sockets until they close."""
        assert self.proc is not None
        before = self.log("main.log").count("gracefully shutting down")
        self.write_config(down)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + READY_DEADLINE_S
        # The old worker has stopped accepting once it says so; from then on the new one takes everything.
        while self.log("main.log").count("gracefully shutting down") <= before:
            if time.monotonic() >= deadline:
                pytest.fail(f"nginx did not reload within {READY_DEADLINE_S} s:\n{self.log('main.log')}")
            await asyncio.sleep(0.05)

    def log(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.iterdir()) if p.is_file())

    def stop(self) -> None:
        """Fast shutdown; its workers (in the master's own session) are killed if they outlive it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

