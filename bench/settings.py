"""Every setting of the benchmark and every target of the plugin, in one place.

The report and ``bench/README.md`` describe the benchmark with these values;
change them here and the report follows.
"""

from __future__ import annotations

import inspect

from certbot_dns_iijdpf._internal.client import DpfClient
from certbot_dns_iijdpf.authenticator import DEFAULT_PROPAGATION_SECONDS
from tests.harness import REPO_ROOT
from tests.harness.challtestsrv import CHALLTESTSRV_DNS as CHALLTESTSRV_DNS
from tests.harness.challtestsrv import CHALLTESTSRV_MANAGEMENT as CHALLTESTSRV_MANAGEMENT
from tests.harness.dpf import SERVICE_CODE, ZONE, nameservers

# -- the DPF emulator -------------------------------------------------------------------

API_LATENCY = 0.05  # seconds added to every API request
JOB_SECONDS = 1.0  # how long every DPF job (record write, apply) stays RUNNING
NAMESERVERS = nameservers(2.0, 4.0)  # lag: seconds after an apply until it serves it
SLOWEST = max(NAMESERVERS, key=lambda ns: ns.lag)
TOKEN = "bench-token"
ZONES = {ZONE: SERVICE_CODE, "example.net.": "dpm00000002"}  # zone: service code

# -- Pebble and the certbot --manual baseline -------------------------------------------

PEBBLE_DNS = f"{SLOWEST.address}:{SLOWEST.port}"  # Pebble's VA asks the slowest nameserver
# Pebble's DNS server in the baseline runs is pebble-challtestsrv at CHALLTESTSRV_DNS
# (its management API at CHALLTESTSRV_MANAGEMENT), the tests' addresses, imported above.

# -- the clients ------------------------------------------------------------------------

# The plugin's own client-side rate limit: DpfClient's defaults, which the plugin uses.
_CLIENT_DEFAULTS = inspect.signature(DpfClient.__init__).parameters
PLUGIN_RATE: float = _CLIENT_DEFAULTS["rate"].default  # requests per second
PLUGIN_BURST: int = _CLIENT_DEFAULTS["burst"].default
PLUGIN_PROPAGATION = DEFAULT_PROPAGATION_SECONDS  # an upper bound: it polls the nameservers

# lego's iijdpf provider uses golang-iij-dpf, whose every client sends through
# rate.NewLimiter(1, 5): one request a second, bursts of 5.
LEGO_RATE = 1.0
LEGO_BURST = 5
LEGO_REQUESTS_PER_NAME = 18  # about what lego sends per name (present + cleanup), measured
MULTI_DEFAULT_PROPAGATION = 60  # certbot-dns-multi's default --dns-multi-propagation-seconds
MULTI_SHORT_PROPAGATION = 5  # just over the slowest nameserver's lag

# -- what runs --------------------------------------------------------------------------

NAME_COUNTS = (1, 2, 10, 20, 50, 100)  # names in one certificate; 100 is certbot's limit
BASELINE_RUNS = 3  # certbot --manual runs per scenario; the floor uses their median
JOBS = 4  # certbot-dns-multi runs at a time, each in its own network namespace
WORKER_STAGGER = 2.0  # seconds between worker starts, so certbot start-ups do not pile up

DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "latest.md"

# -- the plugin's targets ---------------------------------------------------------------

TARGET_FLOOR_RATIO = 1.3  # wall time at most this times the scenario's bound
TARGET_REQUEST_SHARE = 0.5  # API requests at most this share of lego's in the same scenario
TARGET_APPLIES_PER_ZONE = 2  # one apply per zone to publish, one to clean up


def dpf_waits() -> float:
    """What DPF makes any client wait: write job, apply job, slowest lag, cleanup's two jobs."""
    return JOB_SECONDS + JOB_SECONDS + SLOWEST.lag + JOB_SECONDS + JOB_SECONDS
