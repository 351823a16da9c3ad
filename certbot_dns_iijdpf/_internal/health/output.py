"""The check's three outputs: Nagios plugin text, one JSON object, node_exporter metrics.

Nagios text: a status line ``IIJDPF <STATE> - <summary> | <perfdata>``, then
one line per lineage and one per problem (long output).  The perfdata gives
each lineage's days left with the thresholds, for graphs:
``'example.com days_left'=62.1d;14;7;0``.

The textfile holds Prometheus' text format for node_exporter's textfile
collector, and is replaced atomically: node_exporter may read the file at any
moment and must never see half of it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile
from typing import Any

from certbot_dns_iijdpf import __version__
from certbot_dns_iijdpf._internal.health.model import CheckResult, LineageResult, State

PLUGIN = "IIJDPF"
METRIC_PREFIX = "certbot_dns_iijdpf"


def _number(value: float) -> str:
    return f"{value:g}"


def _sample(value: float) -> str:
    # Full precision: a POSIX time has ten digits before the point.
    return repr(float(value))


def _perf_label(text: str) -> str:
    # Quotes delimit the label and "=" ends it: neither may appear inside.
    return "'" + text.replace("'", "").replace("=", "") + "'"


def perfdata(result: CheckResult) -> str:
    warn = _number(result.thresholds.warning_days)
    crit = _number(result.thresholds.critical_days)
    return " ".join(
        f"{_perf_label(f'{r.name} days_left')}={r.days_left:.1f}d;{warn};{crit};0"
        for r in result.lineages
        if r.days_left is not None
    )


def summary(result: CheckResult) -> str:
    """The status line's text after ``IIJDPF STATE - ``."""
    lineages = result.lineages
    skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
    if result.problems and not lineages:
        return result.problems[0].detail + skipped
    bad = [r for r in lineages if r.state is not State.OK]
    if not bad:
        dated = [r for r in lineages if r.days_left is not None]
        nearest = ""
        if dated:
            soonest = min(dated, key=lambda r: r.days_left or 0.0)
            nearest = f"; next expiry {soonest.name} in {soonest.days_left:.1f} days"
        text = f"{len(lineages)} lineage(s) OK{nearest}{skipped}"
    else:
        bad.sort(key=lambda r: -r.state.severity)
        parts = [f"{r.name} {r.state.name} ({', '.join(_problem_checks(r))})" for r in bad]
        text = f"{len(bad)} of {len(lineages)} lineage(s) not OK: {'; '.join(parts)}{skipped}"
    if result.problems:
        text += f"; {result.problems[0].detail}"
    return text


def _problem_checks(result: LineageResult) -> list[str]:
    return list(dict.fromkeys(f.check for f in result.problems))


def _text(text: str) -> str:
    # Nagios reads performance data after a "|" on any line, long output included.
    return text.replace("|", "/")


def nagios(result: CheckResult) -> str:
    """The whole text output, status line first."""
    state = result.state
    head = f"{PLUGIN} {state.name} - {_text(summary(result))}"
    data = perfdata(result)
    lines = [f"{head} | {data}" if data else head]
    # The first problem is in the status line already.
    for problem in result.problems[1:]:
        lines.append(f"{problem.state.name}: {problem.detail}")
    for lineage in result.lineages:
        lines.append(f"{lineage.name}: {lineage.state.name} - {_lineage_line(lineage)}")
        for finding in lineage.problems:
            what = f"{finding.check} {finding.subject}".strip()
            lines.append(f"  {finding.state.name} {what}: {finding.detail}")
    for skipped in result.skipped:
        lines.append(
            f"{skipped.name}: skipped (authenticator {skipped.authenticator}, not dns-iijdpf)"
        )
    return "\n".join([lines[0], *(_text(line) for line in lines[1:])])


def _lineage_line(lineage: LineageResult) -> str:
    if lineage.days_left is None:
        return "expiry unknown"
    names = ", ".join(lineage.names[:4]) + (
        f" and {len(lineage.names) - 4} more" if len(lineage.names) > 4 else ""
    )
    return f"{lineage.days_left:.1f} days left ({names})"


def _iso(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def as_json(result: CheckResult) -> dict[str, Any]:
    """One object for scripts: the same facts as the text, never the token."""
    state = result.state
    return {
        "version": __version__,
        "state": state.name,
        "exit_status": int(state),
        "summary": summary(result),
        "checked_at": _iso(result.checked_at),
        "config_dir": result.config_dir,
        "thresholds": {
            "warning_days": result.thresholds.warning_days,
            "critical_days": result.thresholds.critical_days,
        },
        "problems": [p.as_dict() for p in result.problems],
        "lineages": [
            {
                "name": r.name,
                "renewal_conf": r.renewal_conf,
                "state": r.state.name,
                "names": r.names,
                "not_after": _iso(r.not_after) if r.not_after is not None else None,
                "days_left": round(r.days_left, 2) if r.days_left is not None else None,
                "credentials": r.credentials,
                "endpoint": r.endpoint,
                "checks": [f.as_dict() for f in r.findings],
            }
            for r in result.lineages
        ],
        "skipped": [
            {"name": s.name, "renewal_conf": s.renewal_conf, "authenticator": s.authenticator}
            for s in result.skipped
        ],
    }


def dump_json(result: CheckResult) -> str:
    return json.dumps(as_json(result), indent=2, ensure_ascii=False)


# -- node_exporter's textfile collector ---------------------------------------------------

_METRICS = (
    (
        "check_timestamp_seconds",
        "When the check ran (POSIX time).",
    ),
    (
        "status",
        "The check's overall state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (its exit status).",
    ),
    (
        "lineage_status",
        "Each dns-iijdpf lineage's state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    ),
    (
        "certificate_expiry_timestamp_seconds",
        "When the lineage's current certificate expires (POSIX time).",
    ),
    (
        "lineage_check_status",
        "Each check of each lineage (the worst of its subjects): 0 OK, 1 WARNING, "
        "2 CRITICAL, 3 UNKNOWN.",
    ),
)


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    inner = ",".join(f'{key}="{_label_value(value)}"' for key, value in labels.items())
    return "{" + inner + "}"


def textfile(result: CheckResult) -> str:
    """The metrics in Prometheus' text exposition format."""
    samples: dict[str, list[str]] = {name: [] for name, _ in _METRICS}
    samples["check_timestamp_seconds"].append(_sample(round(result.checked_at, 3)))
    samples["status"].append(str(int(result.state)))
    for lineage in result.lineages:
        labels = _labels(lineage=lineage.name)
        samples["lineage_status"].append(f"{labels} {int(lineage.state)}")
        if lineage.not_after is not None:
            samples["certificate_expiry_timestamp_seconds"].append(
                f"{labels} {_sample(lineage.not_after)}"
            )
        checks: dict[str, State] = {}
        for finding in lineage.findings:
            known = checks.get(finding.check)
            if known is None or finding.state.severity > known.severity:
                checks[finding.check] = finding.state
        for check, state in checks.items():
            samples["lineage_check_status"].append(
                f"{_labels(lineage=lineage.name, check=check)} {int(state)}"
            )
    lines: list[str] = []
    for name, help_text in _METRICS:
        metric = f"{METRIC_PREFIX}_{name}"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        for sample in samples[name]:
            separator = "" if sample.startswith("{") else " "
            lines.append(f"{metric}{separator}{sample}")
    return "\n".join(lines) + "\n"


def write_atomically(path: str, text: str) -> None:
    """Replace ``path`` with ``text`` in one step (a temporary file beside it, then rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=".certbot_dns_iijdpf.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # node_exporter often runs as another user: it must be able to read the file.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
