"""The whole check: read every lineage, judge each, check each account once.

Every problem becomes a finding of the lineage it concerns, and the other
lineages are still checked.  CRITICAL is for what will make certbot's
renewal fail (a broken renewal configuration, a missing certificate or
credentials file, a rejected token, an API that does not answer); UNKNOWN for
what only keeps the check from judging (a file the checking user may not
read, a --config-dir without renewal configurations).
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence

from certbot_dns_iijdpf._internal.health.accounts import (
    AccountFindings,
    AccountKey,
    check_account,
    check_name,
    to_state,
)
from certbot_dns_iijdpf._internal.health.lineages import (
    AUTHENTICATOR,
    CREDENTIALS_KEY,
    CertificateProblem,
    Lineage,
    conf_paths,
    read_certificate,
    read_lineage,
    renewal_dir,
)
from certbot_dns_iijdpf._internal.health.model import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_TIMEOUT,
    CheckResult,
    Finding,
    LineageResult,
    Skipped,
    State,
    Thresholds,
)
from certbot_dns_iijdpf._internal.settings import Settings

AccountChecker = Callable[[Settings, Sequence[str]], AccountFindings]


def run_check(
    config_dir: str = DEFAULT_CONFIG_DIR,
    cert_names: Sequence[str] = (),
    thresholds: Thresholds | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    now: float | None = None,
    account_checker: AccountChecker | None = None,
) -> CheckResult:
    """Check every dns-iijdpf lineage under ``config_dir`` (or only ``cert_names``)."""
    config_dir = os.path.abspath(config_dir)
    result = CheckResult(
        config_dir, thresholds or Thresholds(), time.time() if now is None else now
    )
    lineages = _lineages(result, cert_names)
    accounts: dict[AccountKey, tuple[Settings, list[str], list[LineageResult]]] = {}
    for lineage in lineages:
        if lineage.problem is None and not lineage.ours:
            result.skipped.append(
                Skipped(lineage.name, lineage.conf_path, lineage.authenticator or "(none)")
            )
            continue
        judged = LineageResult(lineage.name, lineage.conf_path)
        result.lineages.append(judged)
        if lineage.problem is not None:
            judged.add("renewal_conf", lineage.problem_state, lineage.problem)
            continue
        judged.add("renewal_conf", State.OK, f"{lineage.conf_path} (authenticator {AUTHENTICATOR})")
        _judge_certificate(judged, lineage, result)
        settings = _judge_credentials(judged, lineage)
        if settings is not None:
            judged.endpoint = settings.endpoint
            _, names, members = accounts.setdefault(AccountKey.of(settings), (settings, [], []))
            names.extend(judged.names)
            members.append(judged)
    checker = account_checker or (lambda s, d: check_account(s, d, timeout=timeout))
    for settings, names, members in accounts.values():
        found = checker(settings, names)
        for judged in members:
            for check in found.for_names(judged.names):
                # "token read"/"token write" become token_read/token_write: no subject left.
                subject = "" if check.name == "token" else check.subject
                judged.add(check_name(check), to_state(check), check.detail, subject)
    if not result.lineages and not result.problems:
        where = renewal_dir(config_dir)
        result.problems.append(_problem(f"no {AUTHENTICATOR} lineage in {where}"))
    return result


def _problem(detail: str, state: State = State.UNKNOWN) -> Finding:
    return Finding("lineages", state, detail)


def _lineages(result: CheckResult, cert_names: Sequence[str]) -> list[Lineage]:
    directory = renewal_dir(result.config_dir)
    try:
        paths = conf_paths(result.config_dir)
    except FileNotFoundError:
        result.problems.append(
            _problem(
                f"{directory} does not exist: give certbot's --config-dir "
                f"(default {DEFAULT_CONFIG_DIR})"
            )
        )
        return []
    except OSError as exc:
        result.problems.append(_problem(f"cannot list {directory}: {exc.strerror or exc}"))
        return []
    if cert_names:
        by_name = {os.path.basename(p)[: -len(".conf")]: p for p in paths}
        chosen = []
        for name in cert_names:
            if name in by_name:
                chosen.append(by_name[name])
            else:
                result.problems.append(
                    _problem(
                        f"--cert-name {name}: no renewal configuration {directory}/{name}.conf "
                        "(`certbot certificates` lists the names)"
                    )
                )
        paths = list(dict.fromkeys(chosen))
    return [read_lineage(path) for path in paths]


def _judge_certificate(judged: LineageResult, lineage: Lineage, result: CheckResult) -> None:
    assert lineage.cert_path is not None
    try:
        cert = read_certificate(lineage.cert_path)
    except CertificateProblem as exc:
        judged.add("certificate", exc.state, str(exc))
        return
    judged.names = cert.names
    judged.not_after = cert.not_after.timestamp()
    days = (judged.not_after - result.checked_at) / 86400
    judged.days_left = days
    expires = cert.not_after.strftime("%Y-%m-%d %H:%M UTC")
    state = result.thresholds.state(days)
    if days < 0:
        detail = (
            f"expired {-days:.1f} days ago ({expires}): renewal has been failing; see certbot's log"
        )
    else:
        detail = f"expires in {days:.1f} days ({expires})"
        if state is not State.OK:
            detail += (
                ": certbot should have renewed it by now; run `certbot renew --cert-name "
                f"{lineage.name}` and read why it fails"
            )
    judged.add("expiry", state, detail)
    if not cert.names:
        judged.add("certificate", State.UNKNOWN, f"{lineage.cert_path} names no DNS name")


def _judge_credentials(judged: LineageResult, lineage: Lineage) -> Settings | None:
    from certbot_dns_iijdpf._internal.cli import load_settings

    path = lineage.credentials
    if path is None:
        judged.add(
            "credentials",
            State.CRITICAL,
            f"{lineage.conf_path} names no credentials file ({CREDENTIALS_KEY}); certbot's timer "
            "does not have IIJ_DPF_API_TOKEN, so renewal fails. Run certbot reconfigure "
            f"--cert-name {lineage.name} --dns-iijdpf-credentials /etc/letsencrypt/iijdpf.ini",
        )
        return None
    judged.credentials = path
    access = _access(path)
    if access == "missing":
        judged.add(
            "credentials",
            State.CRITICAL,
            f"the credentials file {path} is missing: certbot cannot renew this lineage "
            "without it; restore it, or name another with certbot reconfigure --cert-name "
            f"{lineage.name} --dns-iijdpf-credentials PATH",
        )
        return None
    if access == "denied":
        judged.add(
            "credentials",
            State.UNKNOWN,
            f"cannot read the credentials file {path}: permission denied; run the check as "
            "the user certbot runs as (usually root)",
        )
        return None
    settings, status, detail = load_settings(path)
    if settings is None:
        judged.add("credentials", State.CRITICAL, detail)
        return None
    judged.add("credentials", State.WARNING if status == "warning" else State.OK, detail)
    return settings


def _access(path: str) -> str | None:
    """ "missing", "denied" (the checking user may not read it; root reads every file), or None."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except PermissionError:
        return "denied"
    except OSError:
        return None  # load_settings says what is wrong
    if stat.S_ISDIR(info.st_mode) or os.access(path, os.R_OK):
        return None
    return "denied"
