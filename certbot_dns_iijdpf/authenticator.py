"""The certbot plugin: ``-a dns-iijdpf``.

This module is certbot glue only.  It reads the settings, turns certbot's
challenges into :class:`~certbot_dns_iijdpf._internal.publisher.Challenge` objects and
hands them to :class:`~certbot_dns_iijdpf._internal.publisher.ChallengePublisher`, and
turns every DPF error into a :class:`certbot.errors.PluginError` whose text
tells the operator what to fix.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acme import challenges as acme_challenges
from certbot import errors
from certbot.achallenges import AnnotatedChallenge
from certbot.plugins import dns_common

from certbot_dns_iijdpf._internal import settings as settings_module
from certbot_dns_iijdpf._internal.endpoint import DEFAULT_ENDPOINT
from certbot_dns_iijdpf._internal.errors import DpfApiError, DpfError
from certbot_dns_iijdpf._internal.settings import Settings

if TYPE_CHECKING:
    from certbot_dns_iijdpf._internal.deadline import Deadline
    from certbot_dns_iijdpf._internal.publisher import Challenge, ChallengePublisher

# certbot imports every installed plugin on every run, renewals of unrelated
# certificates included; the modules that do the work (and dnspython) are
# imported only when this plugin is actually used.

logger = logging.getLogger(__name__)

DEFAULT_PROPAGATION_SECONDS = 600
DEFAULT_TIMEOUT_SECONDS = 900
# Cleanup runs after failures too, a timed-out perform included; it always
# gets at least this long.
CLEANUP_SECONDS = 120.0
PUBLISH_PENDING_FLAG = "--dns-iijdpf-publish-pending-edits"


def _absolute_path(value: str) -> str:
    # certbot stores plugin options as typed; the renewal timer runs from "/",
    # so a relative path that worked interactively would break every renewal.
    return os.path.abspath(os.path.expanduser(value))


def _domain(achall: AnnotatedChallenge) -> str:
    identifier = getattr(achall, "identifier", None)
    if identifier is not None:
        return str(identifier.value)
    # certbot < 5.3 has no ``identifier`` on annotated challenges.
    return str(achall.domain)


class Authenticator(dns_common.DNSAuthenticator):
    """DNS-01 authenticator for IIJ DNS Platform Service (DPF)."""

    description = (
        "Obtain certificates using a DNS TXT record (if you are using IIJ DNS Platform "
        "Service (DPF) for DNS)."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.credentials: dns_common.CredentialsConfiguration | None = None
        self._settings: Settings | None = None
        self._publisher: ChallengePublisher | None = None
        self._deadline: Deadline | None = None

    @classmethod
    def add_parser_arguments(
        cls,
        add: Callable[..., None],
        default_propagation_seconds: int = DEFAULT_PROPAGATION_SECONDS,
    ) -> None:
        add(
            "propagation-seconds",
            default=default_propagation_seconds,
            type=int,
            help="The longest time, in seconds, to wait for every DPF nameserver of the zone "
            "to serve the challenge; the plugin goes on as soon as they all do. If the "
            "nameservers cannot be queried from this host, it waits this long instead; "
            f"0 skips the check and the wait. (default: {default_propagation_seconds})",
        )
        add(
            "credentials",
            type=_absolute_path,
            help="Path to the DPF credentials INI file (dns_iijdpf_api_token, and optionally "
            f"dns_iijdpf_endpoint, default {DEFAULT_ENDPOINT}).",
        )
        add(
            "timeout-seconds",
            default=DEFAULT_TIMEOUT_SECONDS,
            type=int,
            help="The longest time, in seconds, that the plugin may take to publish the "
            "challenges (every DPF request, job, retry and the nameserver check); past it "
            f"the run fails and names what it was waiting for. Cleanup gets up to "
            f"{CLEANUP_SECONDS:.0f} more seconds (at most this budget). "
            f"(default: {DEFAULT_TIMEOUT_SECONDS})",
        )
        add(
            "no-follow-cname",
            action="store_true",
            default=False,
            help="Write the TXT record at _acme-challenge.<domain> itself, never at the "
            "target of a CNAME found there.",
        )
        add(
            "publish-pending-edits",
            action="store_true",
            default=False,
            help="For this run only: apply the zone even when it holds staged edits that "
            "this plugin did not make, publishing them together with the challenge. "
            "Without it the plugin refuses and names those edits. Renewals never use it "
            "unless it is given again on their command line.",
        )

    def more_info(self) -> str:
        return (
            "This plugin configures a DNS TXT record to respond to a dns-01 challenge using "
            "the IIJ DNS Platform Service (DPF) API."
        )

    def auth_hint(self, failed_achalls: list[AnnotatedChallenge]) -> str:
        return (
            "The certificate authority could not find the TXT record that "
            "certbot-dns-iijdpf published in DPF. Check that the domain is delegated to "
            "DPF's nameservers, and if DPF was slow, raise --dns-iijdpf-propagation-seconds."
        )

    # -- settings ------------------------------------------------------------

    def _setup_credentials(self) -> None:
        if self._settings is not None:
            return
        if not self.conf("credentials"):
            from_env = settings_module.from_environment(os.environ)
            if from_env is not None:
                logger.warning(
                    "Using the DPF token from the environment (IIJ_DPF_API_TOKEN). certbot's "
                    "renewal timer will not have these variables: put the token in a "
                    "credentials file and pass --dns-iijdpf-credentials."
                )
                self._settings = from_env
                return
            if getattr(self.config, "noninteractive_mode", False):
                raise errors.PluginError(
                    "No DPF credentials given: pass --dns-iijdpf-credentials with the path of "
                    "an INI file that holds dns_iijdpf_api_token (for example "
                    "/etc/letsencrypt/iijdpf.ini, mode 600), or set IIJ_DPF_API_TOKEN."
                )
        try:
            self.credentials = self._configure_credentials(
                "credentials",
                "DPF credentials INI file",
                {"api_token": "IIJ ID access token with the dpf_read and dpf_write scopes"},
            )
        except (OSError, UnicodeError) as exc:
            raise errors.PluginError(
                f"Cannot read the DPF credentials file {self.conf('credentials')}: {exc}"
            ) from None
        credentials = self.credentials
        source = f"credentials file {self.conf('credentials')}"
        try:
            self._settings = settings_module.from_values(credentials.conf, source)
        except DpfError as exc:
            raise errors.PluginError(str(exc)) from None

    def _publisher_for_run(self) -> ChallengePublisher:
        from certbot_dns_iijdpf._internal.client import DpfClient
        from certbot_dns_iijdpf._internal.deadline import Deadline
        from certbot_dns_iijdpf._internal.jobs import JobWaiter
        from certbot_dns_iijdpf._internal.journal import FILE_NAME, Journal
        from certbot_dns_iijdpf._internal.propagation import PropagationWaiter
        from certbot_dns_iijdpf._internal.publisher import ChallengePublisher
        from certbot_dns_iijdpf._internal.zones import ZoneDirectory

        if self._publisher is None:
            assert self._settings is not None
            timeout = _positive(
                self.conf("timeout-seconds"), "--dns-iijdpf-timeout-seconds", least=1
            )
            propagation = _positive(
                self.conf("propagation-seconds"), "--dns-iijdpf-propagation-seconds"
            )
            deadline = self._deadline = Deadline(float(timeout))
            client = DpfClient(self._settings.endpoint, self._settings.token, deadline=deadline)
            work_dir = getattr(self.config, "work_dir", None)
            journal = Journal(Path(work_dir) / FILE_NAME if work_dir else None)
            self._publisher = ChallengePublisher(
                client,
                ttl=self._settings.ttl,
                zones=ZoneDirectory(client, self._settings.service_codes),
                jobs=JobWaiter(client, deadline=deadline),
                # Where the nameservers cannot be asked, the bound is also the
                # fixed wait: the operator sized it for this zone.
                propagation=PropagationWaiter(
                    float(propagation), deadline=deadline, fallback_seconds=float(propagation)
                ),
                journal=journal,
                deadline=deadline,
                publish_pending=self._publish_pending(),
                follow_cname=not _flag(self.conf("no-follow-cname")),
            )
        return self._publisher

    def _publish_pending(self) -> bool:
        """Whether ``--dns-iijdpf-publish-pending-edits`` was given for this very run.

        certbot stores every plugin option of a successful run in the renewal
        configuration and restores it at each renewal; an option that
        publishes other people's drafts must not live on like that.
        """
        if not _flag(self.conf("publish-pending-edits")):
            return False
        if given_on_command_line(PUBLISH_PENDING_FLAG, sys.argv[1:]):
            return True
        logger.warning(
            "Ignoring %s from the renewal configuration: it applies only to the run whose "
            "command line gives it.",
            PUBLISH_PENDING_FLAG,
        )
        return False

    # -- certbot's authenticator interface ----------------------------------

    def perform(self, achalls: list[AnnotatedChallenge]) -> list[acme_challenges.ChallengeResponse]:
        self._setup_credentials()
        try:
            publisher = self._publisher_for_run()
            self._attempt_cleanup = True
            publisher.publish(self._challenges(achalls))
        except DpfError as exc:
            raise errors.PluginError(self._explain(exc)) from exc
        return [achall.response(achall.account_key) for achall in achalls]

    def cleanup(self, achalls: list[AnnotatedChallenge]) -> None:
        if not self._attempt_cleanup:
            return
        try:
            if self._deadline is not None:
                # Cleanup gets its own slice even when perform used the whole
                # budget, never more than the budget itself.
                self._deadline.extend(min(CLEANUP_SECONDS, self._deadline.seconds))
            self._publisher_for_run().withdraw(self._challenges(achalls))
        except Exception as exc:  # cleanup runs after failures and Ctrl-C: it must not raise
            message = self._explain(exc) if isinstance(exc, DpfError) else repr(exc)
            logger.warning("Could not remove the DNS-01 challenge records from DPF: %s", message)
            logger.debug("Cleanup failure details", exc_info=True)

    # perform() and cleanup() above handle a whole order at once, so certbot's
    # per-challenge hooks are never called; DNSAuthenticator requires them.
    def _perform(self, domain: str, validation_name: str, validation: str) -> None:
        raise NotImplementedError("perform() publishes the whole order at once")

    def _cleanup(self, domain: str, validation_name: str, validation: str) -> None:
        raise NotImplementedError("cleanup() withdraws the whole order at once")

    @staticmethod
    def _challenges(achalls: list[AnnotatedChallenge]) -> list[Challenge]:
        from certbot_dns_iijdpf._internal.publisher import Challenge

        found: list[Challenge] = []
        for achall in achalls:
            domain = _domain(achall)
            found.append(
                Challenge(
                    achall.validation_domain_name(domain), achall.validation(achall.account_key)
                )
            )
        return found

    def _explain(self, exc: DpfError) -> str:
        if isinstance(exc, DpfApiError) and exc.is_token_rejected:
            source = self._settings.source if self._settings else "the credentials"
            return (
                "DPF rejected the API token (HTTP 400, invalid/access_token): it is wrong, "
                "expired or revoked. Issue a new IIJ ID access token with the dpf_read and "
                f"dpf_write scopes and put it in {source}."
            )
        return str(exc)


def given_on_command_line(flag: str, argv: Sequence[str]) -> bool:
    """Whether ``flag`` (or an abbreviation argparse would accept) is in ``argv``."""
    # The shortest unambiguous abbreviation must get past the options that
    # share the prefix (--dns-iijdpf-propagation-seconds).
    shortest = len("--dns-iijdpf-pu")
    for arg in argv:
        if arg == "--":
            break
        word = arg.split("=", 1)[0]
        if len(word) >= shortest and flag.startswith(word):
            return True
    return False


def _positive(value: object, option: str, least: int = 0) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise errors.PluginError(f"{option} must be a whole number of seconds.") from None
    if number < least:
        raise errors.PluginError(f"{option} must be {least} or more.")
    return number


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
