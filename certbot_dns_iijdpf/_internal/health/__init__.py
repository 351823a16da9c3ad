"""``python -m certbot_dns_iijdpf check``: will every lineage renew, days before renewal day?

certbot says nothing until a renewal fails, and then only in its log.  The
check reads certbot's renewal configurations and, for every lineage whose
authenticator is ``dns-iijdpf``, judges what the next renewal needs: a
certificate that is not close to expiry, a credentials file certbot can read,
a token DPF accepts and lets write, each name's zone, nothing staged in the
zone that the plugin would refuse to publish, and nameservers this host can
ask.  It reuses the probe's read-only checks and never writes to DPF.

Modules, one job each: :mod:`.model` (states, thresholds, findings),
:mod:`.lineages` (renewal configurations and certificates), :mod:`.accounts`
(the DPF checks, one pass per account), :mod:`.run` (the whole check),
:mod:`.output` (the Nagios lines, JSON and the node_exporter textfile).
"""

from __future__ import annotations
