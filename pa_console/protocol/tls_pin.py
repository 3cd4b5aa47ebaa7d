"""Pinning one appliance's certificate: the one TLS client setup the agent (towards its peer) and the console share.

The pin is the whole certificate, as SSH pins a host key: it alone is trusted, whatever names it holds and whatever
its dates say. So the certificate is its own trust anchor (VERIFY_X509_PARTIAL_CHAIN: needed for the CA:FALSE
server certificates made since issue 14 on OpenSSL builds that will not otherwise anchor on a leaf), and its end
date is not checked (X509_V_FLAG_NO_CHECK_TIME): an appliance must never lose its peer, and so fail over, because a
date passed. Replacing a certificate is a re-pin (re-add the appliance, re-establish the pair), never a surprise."""

from __future__ import annotations

import ssl

X509_V_FLAG_NO_CHECK_TIME = 0x200000  # OpenSSL's value; the ssl module has no name for it


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=cert_pem)
    context.check_hostname = False  # administrators reach appliances by addresses a certificate cannot all name
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags = ssl.VerifyFlags(context.verify_flags | ssl.VERIFY_X509_PARTIAL_CHAIN
                                           | X509_V_FLAG_NO_CHECK_TIME)
    return context
