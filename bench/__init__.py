"""Benchmark of certbot-dns-iijdpf against certbot-dns-multi (lego's iijdpf provider).

Run it with ``scripts/in-netns .venvs/main/bin/python -m bench.run``; see ``bench/README.md``.
"""
