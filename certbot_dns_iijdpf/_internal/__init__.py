"""The plugin's working modules: private, and free to change between releases.

The public surface is listed in :mod:`certbot_dns_iijdpf`.  Nothing here is
imported when certbot merely loads the plugin, except the few light modules
that :mod:`certbot_dns_iijdpf.authenticator` needs to describe its options.
"""
