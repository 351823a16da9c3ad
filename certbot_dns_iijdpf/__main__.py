"""``python -m certbot_dns_iijdpf probe ...``: check a DPF account before the first certificate.

Run ``python -m certbot_dns_iijdpf probe --help`` for the options; the README's
"First contact with a real account" says what each line of its report means.
"""

import sys

from certbot_dns_iijdpf._internal.cli import main

sys.exit(main())
