"""``python -m certbot_dns_iijdpf probe|check ...``: the plugin's two commands.

``probe`` checks a DPF account before the first certificate; ``check`` checks
certbot's dns-iijdpf lineages before renewal day, as a Nagios plugin.  Run
either with ``--help`` for the options; the README's "First contact with a
real account" and "Checking lineages before renewal day" say what each line
of their output means.
"""

import sys

from certbot_dns_iijdpf._internal.cli import main

sys.exit(main())
