"""DNS swing: an RFC 2136 dynamic update, signed with a TSIG key, points the site's name at the new primary.

The readiness check is a dry run that proves what a real swing needs, and changes nothing: a signed UPDATE of the
site's record that deletes an address the record does not hold (a documentation address, RFC 5737/3849). The
server checks, in order, that it is authoritative for the zone (else NOTAUTH), that it knows the key and the
signature is right (else BADKEY/BADSIG) and that the key may change that name and type (update-policy or
allow-update, else REFUSED); then deleting an absent record is a no-op (RFC 2136 section 3.4.2.4, BIND does not
even raise the serial). A signed SOA query would only prove that the key is known, not that it may update.
"""

from __future__ import annotations

import ipaddress
import time

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from pa_console.agent.shared_ip.base import Endpoints, resolve
from pa_console.agent.takeover_methods.base import SwingContext, TakeoverMethod, TakeoverMethodError
from pa_console.protocol.models import DnsSwing

ALGORITHMS: dict[str, dns.name.Name] = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-md5": dns.tsig.HMAC_MD5,
}
# Addresses reserved for documentation: no real site record holds them, so deleting one is a no-op.
_ABSENT = {4: ("192.0.2.254", "198.51.100.254"), 6: ("2001:db8::fe", "2001:db8::fd")}


class DnsSwingMethod(TakeoverMethod):
    name = "dns_swing"

    def __init__(self, config: DnsSwing, secret: str | None, context: SwingContext | None = None) -> None:
        self.config = config
        self._secret = secret  # never put in a message, a log line or an event
        self.context = context

    # -- names ------------------------------------------------------------------------------------------------
    @property
    def zone(self) -> dns.name.Name:
        return dns.name.from_text(self.config.zone)

    @property
    def fqdn(self) -> dns.name.Name:
        record = self.config.record
        if record == "@":
            return self.zone
        absolute = dns.name.from_text(record)
        if record.endswith(".") or absolute.is_subdomain(self.zone):
            return absolute  # 'pa.example.com' is meant as written, not as 'pa.example.com.example.com'
        return dns.name.from_text(record, origin=self.zone)

    @property
    def rdtype(self) -> dns.rdatatype.RdataType:
        version = ipaddress.ip_address(self.config.address).version
        return dns.rdatatype.A if version == 4 else dns.rdatatype.AAAA

    @property
    def where(self) -> str:
        return f"{self.config.server} port {self.config.port}"

    @property
    def time_limit_s(self) -> float:
        return 3 * self.config.timeout_s + 5  # a query before the update, the update, and resolving the server

    def describe(self) -> str:
        return f"{self.fqdn} {self.rdtype.name} -> {self.config.address} on {self.where} (DNS swing)"

    # -- the update -------------------------------------------------------------------------------------------
    def _key(self) -> dns.tsig.Key:
        if not self._secret:
            raise TakeoverMethodError("No TSIG secret is set for the DNS swing: set dns_swing.tsig_secret in the "
                                      "failover settings (the secret line of the server's key statement).")
        try:
            return dns.tsig.Key(self.config.tsig_key_name, self._secret, ALGORITHMS[self.config.tsig_algorithm])
        except (ValueError, TypeError) as exc:  # never include the secret: a bad one is described, not shown
            raise TakeoverMethodError("The TSIG secret of the DNS swing is not valid base64.") from exc

    def _update(self) -> dns.update.UpdateMessage:
        if not self.fqdn.is_subdomain(self.zone):
            raise TakeoverMethodError(f"The record {self.fqdn} is not in the zone {self.zone}; a dynamic update "
                                      "can only change names of the zone it is sent to.")
        return dns.update.UpdateMessage(self.zone, keyring=self._key())

    async def _server_ip(self) -> str:
        addresses = await resolve(self.config.server)
        if not addresses:
            raise TakeoverMethodError(f"The DNS server name {self.config.server} does not resolve.")
        return str(addresses[0])

    async def _send(self, message: dns.message.Message, what: str) -> dns.message.Message:
        """Send over TCP (no truncation, and a refused connection is told at once rather than after a timeout)."""
        server = await self._server_ip()
        try:
            response = await dns.asyncquery.tcp(message, server, port=self.config.port,
                                                timeout=self.config.timeout_s)
        except dns.exception.Timeout as exc:
            raise TakeoverMethodError(f"The DNS server {self.where} did not answer the {what} within "
                                      f"{self.config.timeout_s:g} s.") from exc
        except OSError as exc:
            raise TakeoverMethodError(f"Cannot reach the DNS server {self.where} for the {what}: "
                                      f"{exc.strerror or exc}.") from exc
        except dns.tsig.PeerBadKey as exc:
            raise TakeoverMethodError(f"The DNS server {self.where} refused the {what}: it does not know the TSIG "
                                      f"key '{self.config.tsig_key_name}' ({self.config.tsig_algorithm}) "
                                      "(BADKEY). Use the key name and algorithm of the server's key "
                                      "statement.") from exc
        except dns.tsig.PeerBadSignature as exc:
            raise TakeoverMethodError(f"The DNS server {self.where} refused the {what}: the TSIG signature does not "
                                      f"verify (BADSIG), so the secret of key '{self.config.tsig_key_name}' differs "
                                      "from the server's. Set the secret again.") from exc
        except dns.tsig.PeerBadTime as exc:
            raise TakeoverMethodError(f"The DNS server {self.where} refused the {what}: this appliance's clock "
                                      "differs from the server's by more than TSIG allows (BADTIME); fix the "
                                      "time (NTP).") from exc
        except dns.exception.DNSException as exc:
            raise TakeoverMethodError(f"The {what} to the DNS server {self.where} failed: {exc}.") from exc
        self._check_rcode(response, what)
        return response

    def _check_rcode(self, response: dns.message.Message, what: str) -> None:
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        text = dns.rcode.to_text(rcode)
        if rcode == dns.rcode.REFUSED:
            raise TakeoverMethodError(f"The DNS server {self.where} refused the {what} (REFUSED): key "
                                      f"'{self.config.tsig_key_name}' may not change {self.fqdn} "
                                      f"{self.rdtype.name}; allow it in the zone's update-policy (or "
                                      "allow-update).")
        if rcode == dns.rcode.NOTAUTH:
            raise TakeoverMethodError(f"The DNS server {self.where} is not authoritative for the zone {self.zone} "
                                      "(NOTAUTH); point the DNS swing at the zone's primary server.")
        if rcode == dns.rcode.NOTZONE:
            raise TakeoverMethodError(f"The DNS server {self.where} says {self.fqdn} is not in the zone "
                                      f"{self.zone} (NOTZONE).")
        raise TakeoverMethodError(f"The DNS server {self.where} answered the {what} with {text}.")

    async def current(self) -> list[str]:
        """The record's addresses as the server has them now (an ordinary query: the record is public)."""
        query = dns.message.make_query(self.fqdn, self.rdtype)
        response = await self._send(query, "query")
        return sorted(str(rd) for rrset in response.answer if rrset.rdtype == self.rdtype for rd in rrset)

    # -- the interface ------------------------------------------------------------------------------------------
    async def acquire(self) -> str:
        update = self._update()
        update.replace(self.fqdn, self.config.ttl, self.rdtype, self.config.address)
        try:
            before = ", ".join(await self.current()) or "nothing"
        except TakeoverMethodError:
            before = "unknown"  # only for the report: the update itself tells whether the server answers
        t0 = time.monotonic()
        await self._send(update, "update")
        return (f"{self.fqdn} {self.rdtype.name} now points at {self.config.address} (was {before}; TTL "
                f"{self.config.ttl} s), updated on {self.where} with key '{self.config.tsig_key_name}' in "
                f"{time.monotonic() - t0:.2f} s")

    async def release(self) -> str:
        # Deliberately no change: deleting the record would leave the name unresolvable (and negatively cached)
        # until the new primary points it at itself, which it does as the first thing it does as primary.
        return (f"{self.fqdn} left as it is: the new primary points it at its own address when it takes over")

    async def holds(self) -> bool | None:
        try:
            return str(ipaddress.ip_address(self.config.address)) in await self.current()
        except TakeoverMethodError:
            return None

    async def ineligible(self, where: Endpoints) -> str | None:
        try:
            update = self._update()
            version = ipaddress.ip_address(self.config.address).version
            absent = next(a for a in _ABSENT[version] if a != self.config.address)
            update.delete(self.fqdn, self.rdtype, absent)
            await self._send(update, "dry-run update")
        except TakeoverMethodError as exc:
            return str(exc).rstrip(".")
        return None
