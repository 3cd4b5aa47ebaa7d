"""Every SMTP failure as one sentence with the server's code: no repr, no double full stop (issue 16)."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from pa_console.agent.smtp_answers import describe_failure, describe_partial

WHERE = "relay.example.com:587"


def _verify_error() -> BaseException:
    err = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    err.verify_message = "unable to get local issuer certificate"
    outer = aiosmtplib.SMTPConnectError("Error connecting to relay.example.com on port 587")
    outer.__cause__ = err
    return outer


@pytest.mark.parametrize(("exc", "expected"), [
    (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(554, "5.7.1 Relay access denied.", "a@x.org"),
                                       aiosmtplib.SMTPRecipientRefused(550, "No such user", "b@x.org")]),
     f"The SMTP server {WHERE} refused every recipient: a@x.org (554 5.7.1 Relay access denied), "
     "b@x.org (550 No such user)."),
    (aiosmtplib.SMTPSenderRefused(553, "5.7.1 Sender address rejected: not owned by user.", "pa@example.com"),
     f"The SMTP server {WHERE} refused the sender pa@example.com: 553 5.7.1 Sender address rejected: not owned by "
     "user."),
    (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Error: authentication failed:\nUGFzc3dvcmQ6"),
     f"The SMTP server {WHERE} refused the user name or password: 535 5.7.8 Error: authentication failed: "
     "UGFzc3dvcmQ6."),
    (aiosmtplib.SMTPDataError(552, "5.3.4 Message size exceeds fixed limit"),
     f"The SMTP server {WHERE} refused the message: 552 5.3.4 Message size exceeds fixed limit."),
    (aiosmtplib.SMTPTimeoutError("Timed out"), f"The SMTP server {WHERE} did not answer in time; check the server, "
                                               "port and firewall."),
    (ConnectionRefusedError(111, "Connection refused"), f"No SMTP server accepts connections at {WHERE}; check the "
                                                        "server and the port (usually 25, 465 or 587)."),
])
def test_failures_are_sentences_with_their_code(exc: BaseException, expected: str) -> None:
    assert describe_failure(exc, WHERE) == expected


def test_an_untrusted_certificate_says_what_to_do() -> None:
    text = describe_failure(_verify_error(), WHERE)
    assert "does not trust (unable to get local issuer certificate)" in text and "CA file" in text
    assert ".." not in text and text.endswith(".")


def test_partial_refusal() -> None:
    text = describe_partial({"b@x.org": aiosmtplib.SMTPResponse(550, "5.1.1 User unknown.")}, WHERE)
    assert text == f"The SMTP server {WHERE} accepted the message but refused some recipients: b@x.org (550 5.1.1 " \
                   "User unknown)."
