"""certbot-dns-iijdpf: a certbot DNS-01 authenticator for IIJ DNS Platform Service (DPF).

Use it as ``certbot certonly -a dns-iijdpf --dns-iijdpf-credentials
/etc/letsencrypt/iijdpf.ini -d '*.example.com' -d example.com``.  The README
is the user manual.

The public surface, and all of it:

- the certbot plugin ``dns-iijdpf``, whose entry point is
  :class:`certbot_dns_iijdpf.authenticator.Authenticator`, with its
  ``--dns-iijdpf-*`` options, the credentials file's ``dns_iijdpf_*`` keys and
  the ``IIJ_DPF_*`` environment variables the README lists;
- the commands ``python -m certbot_dns_iijdpf probe`` and ``python -m
  certbot_dns_iijdpf check`` (and ``--version``), with their options, exit
  statuses, ``--json`` keys and ``check --textfile`` metric names;
- :data:`__version__`.

Everything under :mod:`certbot_dns_iijdpf._internal` is private: no Python
API is offered, and those modules change between releases without notice.
"""

# The one place the version is written: pyproject.toml reads it from here
# (setuptools' ``attr``), and a release is tagged ``v`` + this.
__version__ = "0.1.0"

__all__ = ["__version__"]
