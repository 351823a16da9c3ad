from certbot_dns_iijdpf._internal import txt

ACME = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456"


def test_quote_wraps_and_escapes() -> None:
    assert txt.quote(ACME) == f'"{ACME}"'
    assert txt.quote('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'


def test_quote_splits_long_values_into_255_byte_strings() -> None:
    quoted = txt.quote("x" * 300)
    assert quoted == '"' + "x" * 255 + '" "' + "x" * 45 + '"'
    assert txt.decode(quoted) == "x" * 300


def test_decode_joins_strings_and_unescapes() -> None:
    assert txt.decode('"v=spf1 " "-all"') == "v=spf1 -all"
    assert txt.decode('"a\\"b"') == 'a"b'


def test_acme_shape() -> None:
    assert txt.is_acme_value(f'"{ACME}"')
    assert not txt.is_acme_value('"v=spf1 -all"')
    assert not txt.is_acme_value(f'"{ACME}x"')
