"""Configuration is read once, typed, and refuses bad values with one readable line."""

from __future__ import annotations

import pytest

from config.partners import load_partners
from config.settings import DEMO_JWT_SECRET, ConfigError, load_config


def test_defaults_run_the_embedded_demo():
    config = load_config({})
    assert config.database_url == "sqlite:///pamgate.db"
    assert config.timezone == "America/Costa_Rica"
    assert config.reserve_ttl_s == 1800
    assert config.max_body_bytes == 65536
    assert config.jwt_secret == DEMO_JWT_SECRET


def test_production_refuses_the_demo_jwt_secret():
    with pytest.raises(ConfigError, match="PAMGATE_JWT_SECRET is required"):
        load_config({"PAMGATE_ENV": "production"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PAMGATE_RESERVE_TTL_S": "soon"}, "PAMGATE_RESERVE_TTL_S must be an integer"),
        ({"PAMGATE_TIMEZONE": "Mars/Olympus"}, "PAMGATE_TIMEZONE"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"PAMGATE_JWT_SECRET": "short"}, "at least 32"),
        ({"PAMGATE_SIGNING_KEY": "nope"}, "must start with whsk_"),
        ({"PAMGATE_READ_TIMEOUT_S": "0"}, "PAMGATE_READ_TIMEOUT_S"),
    ],
)
def test_bad_settings_name_the_variable(environ, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(environ)
    assert "\n" not in str(info.value)


def test_partners_file_is_loaded(tmp_path):
    path = tmp_path / "partners.toml"
    path.write_text(
        '[[partners]]\nid = "b"\nprotocol = "betstack"\noperator = "acme"\ntolerance_s = 60\n'
        '[[partners.keys]]\nkid = "k1"\nsecret = "S3CRET"\nactive = false\n'
        '[[partners.keys]]\nkid = "k2"\nsecret = "OTHER"\n'
    )
    config = load_config({"PAMGATE_PARTNERS_FILE": str(path)})
    (partner,) = config.partners
    assert (partner.id, partner.operator, partner.tolerance_s) == ("b", "acme", 60)
    assert [k.kid for k in partner.active_keys] == ["k2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[partners]\nid=", "is not valid TOML"),
        ('[[partners]]\nid = "x"\nprotocol = "carrier-pigeon"\n', "protocol must be one of"),
        ('[[partners]]\nid = "x"\nprotocol = "betstack"\n', "needs at least one"),
        (
            '[[partners]]\nid = "x"\nprotocol = "betstack"\ntolerance_s = -1\n'
            '[[partners.keys]]\nkid="a"\nsecret="b"\n',
            "tolerance_s",
        ),
        (
            '[[partners]]\nid = "x"\nprotocol = "standard-webhooks"\n'
            '[[partners.keys]]\nkid="a"\nsecret="plain"\n',
            "whsec_ or whpk_",
        ),
        (
            '[[partners]]\nid = "x"\nprotocol = "betstack"\n'
            '[[partners.keys]]\nkid="a"\nsecret="b"\n'
            '[[partners]]\nid = "x"\nprotocol = "betstack"\noperator="o"\n'
            '[[partners.keys]]\nkid="a"\nsecret="b"\n',
            "duplicate id",
        ),
    ],
)
def test_broken_partners_file_gives_one_readable_line(tmp_path, content, message):
    path = tmp_path / "partners.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        load_partners(str(path))
    assert str(info.value).startswith(f"partners file {path}")
    assert "\n" not in str(info.value)


def test_partner_secret_never_appears_in_errors(tmp_path):
    path = tmp_path / "partners.toml"
    path.write_text(
        '[[partners]]\nid = "x"\nprotocol = "standard-webhooks"\n'
        '[[partners.keys]]\nkid="a"\nsecret="TOPSECRETVALUE"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_partners(str(path))
    assert "TOPSECRETVALUE" not in str(info.value)


def test_missing_partners_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config({"PAMGATE_PARTNERS_FILE": str(tmp_path / "nope.toml")})
