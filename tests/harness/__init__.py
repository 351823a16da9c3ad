"""End-to-end test harness: Pebble, certbot and helper servers on loopback.

Everything that binds a fixed port (Pebble 14000/15000, challtestsrv
8053/8055, the DPF emulator on 53) expects to run inside
``scripts/in-netns``, which gives each test run its own loopback.
"""

from __future__ import annotations

import os

from .certbot import CertbotRunner, default_certbot
from .challtestsrv import ChallTestSrv
from .diagnostics import Diagnostics
from .files import write_executable, write_ini, write_private
from .paths import REPO_ROOT, VENVS
from .pebble import Pebble
from .pki import PKI, make_pki
from .process import HarnessError

__all__ = [
    "PKI",
    "REPO_ROOT",
    "VENVS",
    "CertbotRunner",
    "ChallTestSrv",
    "Diagnostics",
    "HarnessError",
    "Pebble",
    "default_certbot",
    "in_test_netns",
    "make_pki",
    "write_executable",
    "write_ini",
    "write_private",
]


def in_test_netns() -> bool:
    """True when running as root inside ``scripts/in-netns``."""
    return os.geteuid() == 0 and os.environ.get("IN_NETNS") == "1"
