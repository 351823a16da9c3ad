"""``python -m certbot_dns_iijdpf probe``: check an account before the first certificate.

The read-only checks find everything that would make a certbot run fail
before it writes anything: an endpoint that does not answer, a token that is
rejected or lacks ``dpf_write``, a name in no zone (or in two), a zone that is
not published, has zone proxy on or delegates the name elsewhere, and
nameservers this host cannot query.  They send one write request, and it
cannot change anything (see :meth:`.checks.Probe.check_write_scope`).

``--write`` then runs one full challenge cycle per zone and records what DPF
actually does where its documentation is silent (see the API notes' open
questions): whether a never-applied row may be PATCHed or DELETEd, whether
``/records`` lists "before update" rows, what an empty apply does, and how
long jobs and nameservers take.  Whatever happens, it withdraws everything it
created, and it applies only while the zone holds nothing but its own edits.
"""
