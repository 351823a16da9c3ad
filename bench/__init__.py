"""Benchmark of certbot-dns-iijdpf against certbot-dns-multi (lego's iijdpf provider).

Run it with ``scripts/in-netns .venvs/main/bin/python -m bench.run``; see ``bench/README.md``.

Modules, one job each: ``settings`` (every setting and target), ``scenarios``
(scenarios, tools, the plan), ``measurement`` (what a run measured, the results
file), ``jsonform`` (the JSON form of dataclasses), ``runners`` (one run in a
fresh environment), ``pool`` (parallel workers in their own network
namespaces), ``targets`` (the plugin's targets), ``report`` (Markdown),
``plot`` (the PNG chart) and ``run`` (the command line).
"""
