"""The command line behind ``python -m certbot_dns_iijdpf probe ...``.

The probe reads the same credentials file as the plugin (or lego's
environment variables) and checks the account before the first certificate;
see :mod:`certbot_dns_iijdpf._internal.probe`.  Exit status: 0 when nothing found would
make certbot fail, 1 when something would, 2 for usage errors, 130 when
interrupted.
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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 86400 seconds")
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
    return parser


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
    return probe_main(args, command_parser)
