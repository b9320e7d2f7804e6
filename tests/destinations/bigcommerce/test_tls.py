"""The clients' TLS context: one per process, verifying, built ahead of the first client."""

from __future__ import annotations

import asyncio
import ssl

from bcsync.destinations.bigcommerce import tls
from bcsync.destinations.bigcommerce.client import BigCommerceClient


def test_one_verifying_context_per_process() -> None:
    context = tls.context()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # certifi's bundle, as httpx loads it
    assert tls.context() is context
    assert tls.prepare().result() is context


def test_a_client_of_its_own_transport_uses_it() -> None:
    client = BigCommerceClient(
        api_url="https://api.bigcommerce.com", store_hash="abc", access_token="token"
    )
    try:
        # httpx's transport hands the context to its connection pool as it is.
        assert client._http._transport._pool._ssl_context is tls.context()
    finally:
        asyncio.run(client.aclose())
