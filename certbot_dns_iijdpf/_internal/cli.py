"""The command line behind ``python -m certbot_dns_iijdpf probe ...`` and ``... check``.

The probe reads the same credentials file as the plugin (or lego's
environment variables) and checks the account before the first certificate;
see :mod:`certbot_dns_iijdpf._internal.probe`.  Exit status: 0 when nothing found would
make certbot fail, 1 when something would, 2 for usage errors, 130 when
interrupted.

The check reads certbot's renewal configurations and judges every dns-iijdpf
lineage before renewal day; see :mod:`certbot_dns_iijdpf._internal.health`.  Its
exit statuses are Nagios': 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (usage
errors included, as monitoring systems expect).
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Sequence
from typing import Any

from certbot_dns_iijdpf import __version__
from certbot_dns_iijdpf._internal import settings as settings_module
from certbot_dns_iijdpf._internal.errors import DpfError
from certbot_dns_iijdpf._internal.settings import ENV_TOKEN, Settings

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3  # the check's usage errors: Nagios' UNKNOWN
EXIT_INTERRUPTED = 130

PROBE_DESCRIPTION = """\
Check a DPF account before the first certificate, with the credentials file
certbot will use. Read-only by default: the API answers, the token reads and
has the dpf_write scope (checked without changing anything), each name's zone
is found, published, not proxied and not delegated further, its nameservers
answer from this host over UDP and TCP, and nothing is staged in the zone.

--write also runs one full challenge cycle per zone at _acme-challenge.<name>
(stage, apply, wait for every nameserver, update, withdraw) and reports how
DPF behaves where its documentation is silent. It refuses to start while
anything is staged in the zone, and removes everything it created, also when
a step fails.
"""

PROBE_EPILOG = """\
exit status: 0 nothing would make certbot fail, 1 something would (a failed
line), 2 usage error (bad options, or a credentials file that cannot be
opened).  Attach the --json output to bug reports; it never contains the token.
"""


CHECK_DESCRIPTION = """\
Check every certbot lineage whose authenticator is dns-iijdpf, before renewal
day, and report as a Nagios plugin (Icinga, Zabbix, Mackerel and Nagios run it
as it is). It reads DIR/renewal/*.conf; lineages of other authenticators are
listed as skipped. For each lineage: days until the certificate expires; the
credentials file it names can be read; DPF accepts the token and lets it write
(checked without changing anything); each name's zone is found; nothing is
staged in the zone that would make the plugin refuse to apply it; the zone's
nameservers answer from this host. It never writes to DPF, and checks each
account (endpoint, token, service codes) once.

Thresholds: certbot renews a 90-day certificate 30 days before it expires, and
(certbot 4 and later) a 47-day one when a third of its life is left, about
15.7 days. So fewer than 14 days left means renewal has already missed its
days, whichever the lifetime: WARNING. Fewer than 7: CRITICAL, a week left to
fix it by hand.
"""

CHECK_EPILOG = """\
exit status (the worst lineage decides: OK < WARNING < UNKNOWN < CRITICAL):
  0 OK        every lineage will renew as far as can be seen
  1 WARNING   fewer than --warning-days left, a staged edit that is not an ACME
              challenge (the plugin refuses to apply while it is there), a
              credentials file others may read, nameservers this host cannot ask
  2 CRITICAL  renewal will fail: fewer than --critical-days left, a renewal
              configuration certbot cannot parse, a missing certificate or
              credentials file, a rejected token or one without dpf_write, a
              name in no zone, an API that does not answer
  3 UNKNOWN   the check could not judge: a file the checking user may not read
              (run it as root, like certbot), no dns-iijdpf lineage under
              --config-dir, bad options

--json prints one object instead; --textfile writes metrics for node_exporter's
textfile collector. Neither output, nor the text, ever contains the token.
"""


class _Parser(argparse.ArgumentParser):
    # The check's usage errors are Nagios' UNKNOWN, said on stdout where monitoring looks.
    usage_status = EXIT_USAGE
    status_prefix = ""

    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        if self.status_prefix:
            print(f"{self.status_prefix}{message}", file=sys.stdout)
        raise SystemExit(self.usage_status)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 86400 seconds")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 0 <= value <= 3650:
        raise argparse.ArgumentTypeError("must be from 0 to 3650 days")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m certbot_dns_iijdpf",
        description="Tools of certbot-dns-iijdpf, the certbot DNS-01 plugin for IIJ DPF.",
    )
    parser.add_argument("--version", action="version", version=f"certbot-dns-iijdpf {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    probe = commands.add_parser(
        "probe",
        help="check credentials, zones and nameservers before the first certificate",
        description=PROBE_DESCRIPTION,
        epilog=PROBE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    probe.add_argument(
        "--dns-iijdpf-credentials",
        "--credentials",
        dest="credentials",
        metavar="PATH",
        help="the plugin's credentials INI file (dns_iijdpf_api_token, ...). Without it, "
        f"{ENV_TOKEN} and the other IIJ_DPF_* variables lego uses are read.",
    )
    probe.add_argument(
        "-d",
        "--domains",
        "--domain",
        dest="domains",
        action="append",
        default=[],
        metavar="DOMAIN",
        help="a name the certificate will cover (repeat, or separate with commas); "
        "a wildcard is checked at its base name",
    )
    probe.add_argument(
        "--write",
        action="store_true",
        help="also run a full challenge cycle per zone (creates and removes a TXT record)",
    )
    probe.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the table"
    )
    probe.add_argument(
        "--max-wait",
        type=_seconds,
        default=600.0,
        metavar="SECONDS",
        help="with --write: the longest wait for each nameserver to serve (and to stop "
        "serving) the value (default: 600)",
    )
    # probe_main reports its own usage errors with the probe's usage line.
    probe.set_defaults(command_parser=probe)
    _add_check(commands)
    return parser


def _add_check(commands: Any) -> None:
    # The model is light; the checks themselves are imported only when the check runs.
    from certbot_dns_iijdpf._internal.health.model import (
        DEFAULT_CONFIG_DIR,
        DEFAULT_CRITICAL_DAYS,
        DEFAULT_TIMEOUT,
        DEFAULT_WARNING_DAYS,
    )

    check = commands.add_parser(
        "check",
        help="check certbot's dns-iijdpf lineages before renewal day (a Nagios plugin)",
        description=CHECK_DESCRIPTION,
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.usage_status = EXIT_UNKNOWN
    check.status_prefix = "IIJDPF UNKNOWN - "
    check.add_argument(
        "--config-dir",
        default=DEFAULT_CONFIG_DIR,
        metavar="DIR",
        help=f"certbot's configuration directory (default: {DEFAULT_CONFIG_DIR})",
    )
    check.add_argument(
        "--cert-name",
        dest="cert_names",
        action="append",
        default=[],
        metavar="NAME",
        help="check only this lineage (repeat, or separate with commas); default: all",
    )
    check.add_argument(
        "--warning-days",
        type=_days,
        default=DEFAULT_WARNING_DAYS,
        metavar="N",
        help=f"WARNING below N days left (default: {DEFAULT_WARNING_DAYS:g})",
    )
    check.add_argument(
        "--critical-days",
        type=_days,
        default=DEFAULT_CRITICAL_DAYS,
        metavar="N",
        help=f"CRITICAL below N days left (default: {DEFAULT_CRITICAL_DAYS:g})",
    )
    check.add_argument(
        "--json", action="store_true", help="print one JSON object instead of the text"
    )
    check.add_argument(
        "--textfile",
        metavar="PATH",
        help="also write node_exporter textfile metrics to PATH (replaced atomically), e.g. "
        "/var/lib/prometheus/node-exporter/certbot_dns_iijdpf.prom",
    )
    check.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="the longest the DPF API may take, per account (default: "
        f"{DEFAULT_TIMEOUT:g}); past it the account's lineages are CRITICAL",
    )
    check.set_defaults(command_parser=check)


def _domains(values: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().rstrip(".")
            if not name:
                continue
            try:
                ascii_name = name.encode("idna").decode("ascii") if not name.isascii() else name
            except UnicodeError:
                parser.error(f"not a domain name: {name!r}")
            labels = ascii_name.lower().split(".")
            wildcard = labels[0] == "*"
            body = labels[1:] if wildcard else labels
            if not body or any(
                not lab or len(lab) > 63 or not all(c.isalnum() or c in "-_" for c in lab)
                for lab in body
            ):
                parser.error(f"not a domain name: {name!r}")
            found.append(ascii_name.lower())
    if not found:
        parser.error("give at least one -d DOMAIN")
    return list(dict.fromkeys(found))


def load_settings(path: str | None) -> tuple[Settings | None, str, str]:
    """Settings plus a status and a detail line about where they came from.

    A status of "failed" (a file that certbot would reject too) comes with
    ``None``; "usage" means no source at all, or a path that cannot be opened.
    """
    if not path:
        try:
            from_env = settings_module.from_environment(os.environ)
        except DpfError as exc:
            return None, "failed", str(exc)
        if from_env is None:
            return (
                None,
                "usage",
                "no credentials: pass --dns-iijdpf-credentials PATH (the INI file certbot "
                f"will use), or set {ENV_TOKEN}.",
            )
        return (
            from_env,
            "warning",
            f"token from the environment ({ENV_TOKEN}); certbot's renewal timer will not "
            "have it: put it in a credentials file",
        )
    path = os.path.abspath(os.path.expanduser(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None, "usage", f"credentials file not found: {path}"
    except OSError as exc:
        return None, "usage", f"cannot read the credentials file {path}: {exc.strerror}"
    if stat.S_ISDIR(info.st_mode):
        return None, "usage", f"the credentials path is a directory: {path}"
    try:
        import configobj

        conf = configobj.ConfigObj(path, encoding="utf-8", file_error=True)
    except PermissionError:
        return (
            None,
            "usage",
            f"cannot read the credentials file {path}: permission denied; run the probe as "
            "the user certbot runs as (usually root).",
        )
    except OSError as exc:
        return None, "usage", f"cannot read the credentials file {path}: {exc.strerror or exc}"
    except UnicodeError:
        return None, "failed", f"{path} is not UTF-8 text"
    except configobj.ConfigObjError as exc:
        # configobj quotes the offending line, which may hold the token.
        line = getattr(exc, "line_number", None)
        where = f" (line {line})" if line else ""
        return None, "failed", f"{path} is not a valid INI file{where}; write key = value lines"

    def get(key: str) -> str | None:
        value = conf.get(f"dns_iijdpf_{key}")
        if isinstance(value, list):
            # An unquoted comma makes configobj return a list.
            return ", ".join(str(v) for v in value)
        return None if value is None else str(value)

    try:
        settings = settings_module.from_values(get, f"credentials file {path}")
    except DpfError as exc:
        return None, "failed", str(exc)
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return (
            settings,
            "warning",
            f"{path} (mode {mode:04o}) may be read by other users; run chmod 600 {path}",
        )
    return settings, "ok", f"{path} (mode {mode:04o})"


def probe_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from certbot_dns_iijdpf._internal.client import DpfClient
    from certbot_dns_iijdpf._internal.probe.checks import Probe
    from certbot_dns_iijdpf._internal.probe.report import (
        FAILED,
        Report,
        dump_json,
        summary_line,
    )

    domains = _domains(args.domains, parser)
    settings, status, detail = load_settings(args.credentials)
    if status == "usage":
        parser.error(detail)
    stream = None if args.json else sys.stdout
    report = Report(stream)
    if stream is not None:
        mode = "read-only checks and a write cycle" if args.write else "read-only checks"
        print(f"certbot-dns-iijdpf {__version__} probe ({mode})", file=stream, flush=True)
    report.add(status, "credentials", "", detail)
    interrupted = False
    if settings is not None:
        try:
            client = DpfClient(settings.endpoint, settings.token)
            Probe(client, settings, report, max_wait=args.max_wait).run(domains, args.write)
        except DpfError as exc:
            report.add(FAILED, "probe", "", f"stopped: {exc}")
        except KeyboardInterrupt:
            interrupted = True
            report.add(FAILED, "probe", "", "interrupted")
    code = EXIT_FAILED if report.failed else EXIT_OK
    if interrupted:
        code = EXIT_INTERRUPTED
    if args.json:
        dump_json(
            report,
            sys.stdout,
            endpoint=settings.endpoint if settings else None,
            credentials=settings.source if settings else args.credentials,
            domains=domains,
            write=bool(args.write),
            exit_status=code,
        )
    elif interrupted:
        print("Result: interrupted; the checks above are all that ran.", file=sys.stdout)
    else:
        print(summary_line(report), file=sys.stdout)
    return code


def check_main(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from certbot_dns_iijdpf._internal.health.model import Finding, State, Thresholds
    from certbot_dns_iijdpf._internal.health.output import (
        dump_json,
        nagios,
        textfile,
        write_atomically,
    )
    from certbot_dns_iijdpf._internal.health.run import run_check

    if args.critical_days > args.warning_days:
        parser.error("--critical-days must not be more than --warning-days")
    names = [n.strip() for value in args.cert_names for n in value.split(",") if n.strip()]
    thresholds = Thresholds(args.warning_days, args.critical_days)
    try:
        result = run_check(args.config_dir, names, thresholds, timeout=args.timeout)
    except KeyboardInterrupt:
        print("IIJDPF UNKNOWN - interrupted", file=sys.stdout)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a monitoring system must still get its one line
        print(
            f"IIJDPF UNKNOWN - the check itself failed ({type(exc).__name__}: {exc}); "
            "please report this with the output of --json",
            file=sys.stdout,
        )
        return int(State.UNKNOWN)
    if args.textfile:
        try:
            write_atomically(args.textfile, textfile(result))
        except OSError as exc:
            result.problems.append(
                Finding(
                    "textfile",
                    State.UNKNOWN,
                    f"cannot write --textfile {args.textfile}: {exc.strerror or exc}",
                )
            )
    print(dump_json(result) if args.json else nagios(result), file=sys.stdout)
    return int(result.state)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    command_parser: argparse.ArgumentParser = args.command_parser
    if extra:
        # Said with the probe's usage line, which lists the options it takes.
        command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "check":
        return check_main(args, command_parser)
    return probe_main(args, command_parser)
