"""Alert e-mail over STARTTLS to a real SMTP server (aiosmtpd) on 127.0.0.1 that requires it,
with a certificate from a CA the test makes (cryptography): delivered over TLS when
ALERT_SMTP_CA_FILE names that CA; refused — nothing sent — with another CA, with the
system's CAs, or by a server that does not offer STARTTLS. Verification is never off."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from gateway.settings import SettingsError, load_settings
from gateway.store.models import Alert
from sync_jobs.scheduler import evaluate_alerts
from tests.integration.console.helpers import logged_in, post
from tests.integration.console.test_operations import _sheet_source

PORTS = range(21500, 21600)        # this branch's share of the test ports


def _free_port() -> int:
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 21500-21599")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(folder: Path, cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    path = folder / f"{cn}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def server_context(folder: Path, ca_key, ca_cert) -> ssl.SSLContext:
    """The SMTP server's TLS: a certificate for 127.0.0.1 signed by the test's CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return context


class Inbox:
    """aiosmtpd handler: keeps each message with whether it came over TLS."""

    def __init__(self):
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"tls": session.ssl is not None, "to": list(envelope.rcpt_tos),
                              "content": envelope.content})
        return "250 OK"


@contextmanager
def smtp_server(tls: ssl.SSLContext | None):
    inbox = Inbox()
    options = {"tls_context": tls, "require_starttls": True} if tls is not None else {}
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port(), **options)
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def ca(tmp_path):
    key, cert, path = make_ca(tmp_path, "vgw-test-smtp-ca")
    return {"key": key, "cert": cert, "path": path, "tls": server_context(tmp_path, key, cert)}


def _fire(app, tmp_path, port: int, **settings) -> dict:
    """A stale source and an e-mailing rule; the scheduler's evaluation delivers; the alert's
    deliveries as recorded."""
    _sheet_source(app, tmp_path / "drop", name="quiet-sheet", region="11")
    operator = logged_in(app, "ops", "operator")
    app.config.update(ALERT_SMTP_HOST="127.0.0.1", ALERT_SMTP_PORT=port, ALERT_SMTP_STARTTLS=True,
                      **settings)
    assert post(operator, "/console/alerts/rules", {"name": "stale", "kind": "stale", "threshold": "0",
                                                    "email": "ops@example.org"}).status_code == 302
    evaluate_alerts(app)
    with app.extensions["store.sessionmaker"]() as session:
        (alert,) = session.execute(select(Alert)).scalars().all()
        return dict(alert.deliveries)


def test_an_alert_mail_arrives_over_starttls_verified_against_the_ca_file(store_app, tmp_path, ca):
    with smtp_server(ca["tls"]) as (port, inbox):
        deliveries = _fire(store_app, tmp_path, port, ALERT_SMTP_CA_FILE=str(ca["path"]))
    assert deliveries == {"email": "sent"}
    (mail,) = inbox.messages
    assert mail["tls"] is True and mail["to"] == ["ops@example.org"]
    assert b"quiet-sheet" in mail["content"] and b"[vgw alert] stale" in mail["content"]


def test_a_wrong_ca_is_refused_and_nothing_is_sent(store_app, tmp_path, ca):
    _key, _cert, other = make_ca(tmp_path, "some-other-ca")
    with smtp_server(ca["tls"]) as (port, inbox):
        deliveries = _fire(store_app, tmp_path, port, ALERT_SMTP_CA_FILE=str(other))
    assert deliveries == {"email": "failed: SSLCertVerificationError"}
    assert inbox.messages == []


def test_without_a_ca_file_the_system_cas_are_used_and_refuse_a_private_ca(store_app, tmp_path, ca):
    with smtp_server(ca["tls"]) as (port, inbox):
        deliveries = _fire(store_app, tmp_path, port, ALERT_SMTP_CA_FILE="")
    assert deliveries == {"email": "failed: SSLCertVerificationError"}
    assert inbox.messages == []


def test_a_server_without_starttls_is_not_spoken_to_in_the_clear(store_app, tmp_path, ca):
    with smtp_server(None) as (port, inbox):
        deliveries = _fire(store_app, tmp_path, port, ALERT_SMTP_CA_FILE=str(ca["path"]))
    assert deliveries == {"email": "failed: SMTPNotSupportedError"}
    assert inbox.messages == []


def test_the_ca_file_setting_must_name_a_file(tmp_path):
    with pytest.raises(SettingsError, match="ALERT_SMTP_CA_FILE"):
        load_settings(str(tmp_path), environ={"GATEWAY_ALERT_SMTP_CA_FILE": str(tmp_path / "missing.pem")})
