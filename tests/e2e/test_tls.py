"""TLS: protocol floor, and certificate reload without restarting the listener."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
import trustme

from postier.errors import ConfigError
from postier.net.tls import TlsManager, generate_self_signed


async def _served_certificate(port: int, ca: trustme.CA) -> bytes:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    _reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                    server_hostname="localhost")
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return bytes(der)


async def _serve(context: ssl.SSLContext) -> asyncio.Server:
    async def handle(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


async def test_reload_serves_the_new_certificate_on_the_same_listener(tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "server.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    manager = TlsManager(pem, pem)
    server = await _serve(manager.context)
    port = server.sockets[0].getsockname()[1]
    try:
        before = await _served_certificate(port, ca)
        ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
        manager.reload()
        after = await _served_certificate(port, ca)
        assert before != after
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_tls_below_1_2_is_refused(tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "server.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
    server = await _serve(TlsManager(pem, pem).context)
    port = server.sockets[0].getsockname()[1]
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ca.configure_trust(context)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("ALL:@SECLEVEL=0")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                          server_hostname="localhost")
    finally:
        server.close()
        await server.wait_closed()


def test_self_signed_certificate_loads_and_key_is_private(tmp_path: Path) -> None:
    generate_self_signed("mail.example.test", tmp_path / "c.pem", tmp_path / "k.pem")
    TlsManager(tmp_path / "c.pem", tmp_path / "k.pem")
    assert (tmp_path / "k.pem").stat().st_mode & 0o077 == 0


def test_a_broken_certificate_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="cannot load certificate"):
        TlsManager(tmp_path / "bad.pem", tmp_path / "bad.pem")
