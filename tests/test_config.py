"""Configuration: the documented keys work, and every mistake names the key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from dyadwatch.config import DEFAULT_PAIRS, ConfigError, load_config, redact_url


def test_documented_example_parses(write_config) -> None:
    path = write_config(
        """
database: data/corpus.db
feeds:
  - url: https://example.org/rss
    name: Example
  - url: local/feed.xml
pairs: [[RUS, ISR], [ISR, UKR], [RUS, UKR], [RUS, IRN], [ISR, IRN]]
alerts:
  - apprise: "json://127.0.0.1:8765/alerts"
network:
  allow_private_addresses: false
"""
    )
    config = load_config(path)
    assert config.database == path.parent / "data" / "corpus.db"
    assert [f.url for f in config.feeds] == [
        "https://example.org/rss",
        str(path.parent / "local/feed.xml"),
    ]
    assert config.feeds[0].name == "Example"
    assert config.pairs == [
        ("ISR", "RUS"),
        ("ISR", "UKR"),
        ("RUS", "UKR"),
        ("IRN", "RUS"),
        ("IRN", "ISR"),
    ]
    assert config.alerts == ["json://127.0.0.1:8765/alerts"]
    assert config.allow_private_addresses is False
    assert config.seeds == path.parent / "seeds"


def test_defaults(write_config) -> None:
    config = load_config(write_config("feeds: []\n"))
    assert config.pairs == DEFAULT_PAIRS
    assert config.alerts == []
    assert config.database.name == "corpus.db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pairs: [[RUS]]\n", "pairs[0]: expected two different upper-case actor ids"),
        ("pairs: [[RUS, RUS]]\n", "pairs[0]"),
        ("pairs: [[rus, isr]]\n", "pairs[0]"),
        ("feeds: [{url: 'ftp://x.org/feed'}]\n", "feeds[0].url: unsupported scheme 'ftp'"),
        ("feeds: [{url: 'https://x.org/', nme: X}]\n", "feeds[0].nme: unknown key"),
        ("feeds: {url: x}\n", "feeds: expected a list"),
        (
            "network: {allow_private_addresses: 'yes'}\n",
            "network.allow_private_addresses: expected true or false",
        ),
        ("alerts: [{apprise: 'not a url'}]\n", "alerts[0].apprise: expected an Apprise URL"),
        (
            "alerts: [{apprise: 'json://h/${DYADWATCH_TEST_UNSET_VAR}'}]\n",
            "DYADWATCH_TEST_UNSET_VAR is not set",
        ),
        ("databse: x.db\n", "databse: unknown key"),
        ("topic: {threshold: 2}\n", "topic.threshold: expected a number from 0 to 1"),
        ("feeds: [\n  - url: x\n bad", "line "),
        ("- just\n- a list\n", "expected a mapping"),
        ("feeds: [{url: 'http://[oops/feed'}]\n", "feeds[0].url: malformed URL"),
        ("feeds: [{url: 'http://x.org:99999/'}]\n", "feeds[0].url: malformed URL"),
        ("fetch: {max_feed_bytes: .inf}\n", "fetch.max_feed_bytes: expected a positive number"),
        ("fetch: {timeout: .inf}\n", "fetch.timeout: expected a positive number"),
        ("fetch: {1: 2}\n", "fetch: unexpected key 1"),
        ("1: x\ndatabase: y.db\n", "(top level): unexpected key 1"),
        ("feeds: [{url: 'https://x.org/', 2: y}]\n", "feeds[0]: unexpected key 2"),
        ("network: {1: true}\n", "network: unexpected key 1"),
        (
            "alerts: [{apprise: 'tgarm://123456:SECRETTOKEN/1'}]\n",
            "is not a URL Apprise understands",
        ),
    ],
)
def test_invalid_configs_name_the_key(write_config, text: str, expected: str) -> None:
    path = write_config(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "SECRETTOKEN" not in message


def test_alert_channels_can_be_routed_to_some_pairs(write_config) -> None:
    from dyadwatch.alerts import routes

    config = load_config(
        write_config(
            "alerts:\n  - apprise: json://h/all\n  - {apprise: 'json://h/isr-rus', pairs: [[RUS, ISR]]}\n"
        )
    )
    assert config.alert_pairs == {"json://h/isr-rus": (("ISR", "RUS"),)}
    assert [r[2] for r in routes(config)] == [None, {"ISR-RUS"}]
    with pytest.raises(
        ConfigError, match=r"alerts\[0\].pairs: \['CHN', 'RUS'\] is not a tracked pair"
    ):
        load_config(write_config("alerts: [{apprise: 'json://h/x', pairs: [[RUS, CHN]]}]\n"))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.yaml")


def test_secrets_come_from_environment_and_are_redacted(write_config, monkeypatch) -> None:
    monkeypatch.setenv("DW_TOKEN", "123456:s3cr3t")
    config = load_config(write_config("alerts: [{apprise: 'tgram://${DW_TOKEN}/12345'}]\n"))
    assert config.alerts == ["tgram://123456:s3cr3t/12345"]
    assert "s3cr3t" not in redact_url(config.alerts[0])


def test_a_feed_listed_twice_is_an_error(write_config) -> None:
    from dyadwatch.config import ConfigError, load_config

    path = write_config({"feeds": ["https://a.example/rss", {"url": "https://a.example/rss"}]})
    with pytest.raises(
        ConfigError, match=r"feeds\[1\]\.url: https://a.example/rss is listed twice"
    ):
        load_config(path)
