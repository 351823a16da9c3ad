"""The local demo: certbot with certbot-dns-iijdpf issues a wildcard certificate.

Everything runs on this machine: the DPF emulator (API and two nameservers
that lag behind the API), Pebble as the ACME CA, and certbot itself, exactly as
an operator runs it.  Run through ``scripts/demo``, which prepares the machine
and gives the demo a private network namespace.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.dpf_emulator import (
    Emulator,
    EmulatorConfig,
    NameserverSpec,
    TokenSpec,
    ZoneSpec,
)
from tests.harness import CertbotRunner, Pebble, make_pki, write_ini

TOKEN = "demo-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="example.com", help="zone to issue for")
    parser.add_argument("--job-seconds", type=float, default=1.0, help="DPF job time")
    parser.add_argument("--lags", default="2,4", help="nameserver lags in seconds, comma separated")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    zone = args.domain.rstrip(".") + "."
    lags = [float(x) for x in args.lags.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="iijdpf-demo-"))
    config = EmulatorConfig(
        zones=[ZoneSpec(name=zone, service_code="dpm00000001")],
        tokens=[TokenSpec(token=TOKEN)],
        nameservers=[
            NameserverSpec(f"ns{i + 1}.dpf-emulator.test.", f"127.0.0.{53 + i}", 53, lag)
            for i, lag in enumerate(lags)
        ],
        resolver=("127.0.0.1", 53),
        job_seconds=args.job_seconds,
        api_latency=0.05,
    )
    slowest = f"127.0.0.{53 + len(lags) - 1}:53"
    with (
        Emulator(config) as emulator,
        Pebble(slowest, workdir=workdir / "pebble", pki=make_pki(workdir / "pki")) as pebble,
    ):
        print(
            f"DPF emulator: {emulator.api_url}, nameservers lag {args.lags} s, "
            f"jobs take {args.job_seconds} s"
        )
        print(f"Pebble (ACME CA): {pebble.directory_url}, validating against {slowest}")
        ini = write_ini(
            workdir / "iijdpf.ini",
            {"dns_iijdpf_api_token": TOKEN, "dns_iijdpf_endpoint": emulator.api_url},
        )
        runner = CertbotRunner(workdir / "certbot", pebble)
        domains = [f"*.{zone.rstrip('.')}", zone.rstrip(".")]
        command = [
            "certonly",
            "-a",
            "dns-iijdpf",
            "--dns-iijdpf-credentials",
            str(ini),
            "-d",
            domains[0],
            "-d",
            domains[1],
        ]
        print("\n$ certbot " + " ".join(command) + "\n")
        started = time.monotonic()
        result = runner.run(command)
        elapsed = time.monotonic() - started
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        if result.returncode != 0:
            print(f"\ncertbot failed ({result.returncode}); logs under {runner.logs_dir}")
            return 1
        name = domains[1]
        cert = runner.live_dir(name) / "fullchain.pem"
        leftovers = [r for r in emulator.records(zone) if r["name"].startswith("_acme-challenge")]
        print(f"\nIssued in {elapsed:.1f} s for {', '.join(sorted(runner.cert_sans(name)))}")
        print(f"  {len(emulator.request_log)} DPF API requests, {emulator.applies(zone)} applies")
        print(f"  challenge records left in the zone: {len(leftovers)}")
        subprocess.run(
            [
                "openssl",
                "x509",
                "-in",
                str(cert),
                "-noout",
                "-subject",
                "-issuer",
                "-ext",
                "subjectAltName",
            ],
            check=False,
        )
    if args.keep:
        print(f"\nWorking directory kept: {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
