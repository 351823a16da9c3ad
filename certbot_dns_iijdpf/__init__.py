"""certbot-dns-iijdpf: a certbot DNS-01 authenticator for IIJ DNS Platform Service (DPF).

Use it as ``certbot certonly -a dns-iijdpf --dns-iijdpf-credentials
/etc/letsencrypt/iijdpf.ini -d '*.example.com' -d example.com``.  The README
is the user manual; the package exposes no Python API of its own.
"""

# The one place the version is written: pyproject.toml reads it from here
# (setuptools' ``attr``), and a release is tagged ``v`` + this.
__version__ = "0.1.0"
