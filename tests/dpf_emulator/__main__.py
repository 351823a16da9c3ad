"""Run the DPF emulator as a process: ``python -m tests.dpf_emulator [options]``.

Once the API and every DNS listener are bound it prints one line to stdout::

    READY api=http://127.0.0.1:8080/dpf/v1 ns=127.0.0.53:53,127.0.0.54:53

(`` resolver=ADDR:PORT`` is appended when --resolver is given). Counts and the
request log are at ``http://HOST:PORT/_emulator/state`` and ``/_emulator/log``.
SIGTERM or SIGINT stops it cleanly. Option values override ``--strict``,
which overrides ``--config``, which overrides the defaults shown in
``--help``. Binding port 53 needs root;
run it inside ``scripts/in-netns`` so it cannot collide with the host.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .config import (
    APPLY_SCOPES,
    DELETE_PENDING_ADD_MODES,
    DELETE_PENDING_UPDATE_MODES,
    EMPTY_APPLY_MODES,
    LOST_ANSWER_MODES,
    PATCH_PENDING_ADD_MODES,
    STRICT_ANSWERS,
    EmulatorConfig,
    NameserverSpec,
    TokenSpec,
    ZoneSpec,
    config_from_dict,
)
from .server import Emulator

DEFAULT_ZONES = ["example.com.=dpm00000001"]
DEFAULT_TOKENS = ["demo-token"]
DEFAULT_NAMESERVERS = [
    "ns1.dpf-emulator.test.=127.0.0.53@0.5",
    "ns2.dpf-emulator.test.=127.0.0.54@1.0",
]


def _split_address(text: str, default_port: int) -> tuple[str, int]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default_port


def parse_zone(text: str) -> ZoneSpec:
    name, sep, code = text.partition("=")
    if not sep or not name or not code:
        raise argparse.ArgumentTypeError("expected NAME=SERVICE_CODE")
    return ZoneSpec(name, code)


def parse_token(text: str) -> TokenSpec:
    token, sep, operator = text.partition("=")
    if not token:
        raise argparse.ArgumentTypeError("expected TOKEN or TOKEN=OPERATOR")
    return TokenSpec(token, operator) if sep and operator else TokenSpec(token)


def parse_nameserver(text: str) -> NameserverSpec:
    hostname, sep, rest = text.partition("=")
    if not sep or not hostname or not rest:
        raise argparse.ArgumentTypeError("expected HOSTNAME=ADDRESS[:PORT][@LAG]")
    address, _, lag = rest.partition("@")
    try:
        host, port = _split_address(address, 53)
        return NameserverSpec(hostname, host, port, float(lag) if lag else 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad nameserver {text!r}") from None


def parse_resolver(text: str) -> tuple[str, int]:
    try:
        return _split_address(text, 53)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad resolver address {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.dpf_emulator",
        description="Emulate IIJ DPF's REST API and authoritative nameservers.",
    )
    parser.add_argument("--api-host", help="API listen address (default 127.0.0.1)")
    parser.add_argument("--api-port", type=int, help="API port (default 8080; 0 = any)")
    parser.add_argument(
        "--zone",
        action="append",
        type=parse_zone,
        metavar="NAME=SERVICE_CODE",
        help=f"hosted zone, repeatable (default {DEFAULT_ZONES[0]})",
    )
    parser.add_argument(
        "--token",
        action="append",
        type=parse_token,
        metavar="TOKEN[=OPERATOR]",
        help="API token seeing all zones, repeatable (default demo-token, operator SA0000001)",
    )
    parser.add_argument(
        "--nameserver",
        action="append",
        type=parse_nameserver,
        metavar="HOSTNAME=ADDRESS[:PORT][@LAG]",
        help="authoritative server, repeatable (default " + " and ".join(DEFAULT_NAMESERVERS) + ")",
    )
    parser.add_argument(
        "--resolver",
        type=parse_resolver,
        metavar="ADDRESS[:PORT]",
        help="extra zero-lag listener standing in for the system resolver",
    )
    parser.add_argument("--job-seconds", type=float, help="RUNNING time of every job (1.0)")
    parser.add_argument("--api-latency", type=float, help="delay added to every answer (0.05)")
    parser.add_argument("--apply-scope", choices=APPLY_SCOPES, help="default all")
    parser.add_argument("--empty-apply", choices=EMPTY_APPLY_MODES, help="default ok")
    parser.add_argument(
        "--delete-pending-add", choices=DELETE_PENDING_ADD_MODES, help="default forbidden"
    )
    parser.add_argument(
        "--hide-before-update-rows",
        action="store_true",
        default=None,
        help="/records lists no state-5 rows (default: it does)",
    )
    parser.add_argument(
        "--patch-pending-add", choices=PATCH_PENDING_ADD_MODES, help="default allow"
    )
    parser.add_argument(
        "--delete-pending-update", choices=DELETE_PENDING_UPDATE_MODES, help="default stage"
    )
    parser.add_argument(
        "--lost-answers-every",
        type=int,
        metavar="N",
        help="lose the answer of every Nth accepted write (default 0 = never)",
    )
    parser.add_argument("--lost-answer-mode", choices=LOST_ANSWER_MODES, help="default 504")
    parser.add_argument(
        "--page-size-cap",
        type=int,
        metavar="N",
        help="list endpoints return at most N rows per page (default 0 = no cap)",
    )
    parser.add_argument(
        "--omit-zone-proxy-field",
        action="store_true",
        default=None,
        help="zone objects lack zone_proxy_enabled, as in the 3.7.0 schema",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="every strict or unusual answer at once (see tests/dpf_emulator/README.md)",
    )
    parser.add_argument("--config", metavar="FILE", help="JSON file with EmulatorConfig fields")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    return parser


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    data: dict[str, Any] = {}
    if args.config:
        with open(args.config, encoding="utf-8") as handle:
            data = json.load(handle)
    config = config_from_dict(data)
    # The CLI's own defaults differ from the dataclass defaults (which suit
    # unit tests), so they fill in whatever neither the file nor a flag set.
    config.api_port = int(data.get("api_port", 8080))
    config.job_seconds = float(data.get("job_seconds", 1.0))
    config.api_latency = float(data.get("api_latency", 0.05))
    if not config.zones:
        config.zones = [parse_zone(z) for z in DEFAULT_ZONES]
    if not config.tokens:
        config.tokens = [parse_token(t) for t in DEFAULT_TOKENS]
    if not config.nameservers:
        config.nameservers = [parse_nameserver(n) for n in DEFAULT_NAMESERVERS]
    if args.strict:
        for key, value in STRICT_ANSWERS.items():
            setattr(config, key, value)
    overrides = {
        "zones": args.zone,
        "tokens": args.token,
        "nameservers": args.nameserver,
        "resolver": args.resolver,
        "api_host": args.api_host,
        "api_port": args.api_port,
        "job_seconds": args.job_seconds,
        "api_latency": args.api_latency,
        "apply_scope": args.apply_scope,
        "empty_apply": args.empty_apply,
        "delete_pending_add": args.delete_pending_add,
        "hide_before_update_rows": args.hide_before_update_rows,
        "patch_pending_add": args.patch_pending_add,
        "delete_pending_update": args.delete_pending_update,
        "lost_answers_every": args.lost_answers_every,
        "lost_answer_mode": args.lost_answer_mode,
        "page_size_cap": args.page_size_cap,
        "omit_zone_proxy_field": args.omit_zone_proxy_field,
    }
    for key, value in overrides.items():
        if value is not None:
            setattr(config, key, value)
    config.validate()
    return config


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = build_config(args)
    except (OSError, ValueError, TypeError) as error:
        parser.error(str(error))
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emulator = Emulator(config, verbose=args.verbose)
    try:
        emulator.start()
    except OSError as error:
        print(f"dpf-emulator: cannot listen: {error}", file=sys.stderr)
        return 1
    try:
        print(emulator.ready_line(), flush=True)
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
