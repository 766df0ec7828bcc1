"""Load and validate dyadwatch's YAML configuration.

Every problem is reported as one :class:`ConfigError` naming the file, the key and what
was expected, before anything runs. Relative paths are resolved against the directory of
the configuration file, so a scheduled run started from another working directory reads
and writes the same files as a run started by hand.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

DEFAULT_PAIRS: list[tuple[str, str]] = [
    ("ISR", "RUS"),
    ("ISR", "UKR"),
    ("RUS", "UKR"),
    ("IRN", "RUS"),
    ("IRN", "ISR"),
]

ACTOR_ID = re.compile(r"^[A-Z]{2,6}$")
ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
KNOWN_KEYS = {
    "database",
    "feeds",
    "pairs",
    "alerts",
    "network",
    "seeds",
    "topic",
    "fetch",
    "polling",
    "runner",
}
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")
ALERT_KEYS = {"apprise", "pairs", "mode", "max_per_hour", "admin"}
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says where and why."""


@dataclass(frozen=True)
class FeedConfig:
    """One feed to poll: an http(s) URL or a local file path."""

    url: str
    name: str | None = None


@dataclass(frozen=True)
class FetchConfig:
    """Limits for every HTTP request the monitor makes."""

    timeout: float = 20.0
    max_feed_bytes: int = 10 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    # Set your contact here (fetch.user_agent) so that publishers can reach you.
    user_agent: str = "dyadwatch/0.1 (open-source news monitor)"


@dataclass(frozen=True)
class PollingConfig:
    """When feeds are polled and how many requests run at once.

    Intervals are in seconds (the YAML also takes ``10m``, ``2h``, ``1d``).
    """

    min_interval: int = 600  # never poll a feed more often than this
    max_interval: int = 86400  # nor less often than this (while it works)
    default_interval: int = 1800  # a new feed, until its rhythm is known
    max_backoff: int = 86400  # the longest wait after repeated failures
    concurrency: int = 16  # requests at once, in all
    per_host: int = 2  # requests at once to one host


@dataclass(frozen=True)
class Config:
    """A validated configuration."""

    path: Path | None
    database: Path
    feeds: list[FeedConfig]
    pairs: list[tuple[str, str]] = field(default_factory=lambda: list(DEFAULT_PAIRS))
    alerts: list[str] = field(default_factory=list)  # channels for pair alerts
    # Channels that only want some pairs: URL -> pairs (every other channel gets all).
    alert_pairs: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # Channels that get one digest per period instead of immediate alerts.
    digest_channels: frozenset[str] = frozenset()
    # Immediate channels with an hourly cap: URL -> alerts per hour; the rest fold into the
    # next digest.
    alert_caps: dict[str, int] = field(default_factory=dict)
    admin_alerts: list[str] = field(default_factory=list)  # channels for pipeline health
    allow_private_addresses: bool = False
    seeds: Path | None = None
    topic_threshold: float = 0.35
    fetch: FetchConfig = field(default_factory=FetchConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    # Where the flow's tasks run: "local" (threads, and a process pool for big runs) or the
    # address of a Dask scheduler (tcp://host:8786); the flow itself, which writes, stays here.
    runner: str = "local"

    @property
    def dask_address(self) -> str | None:
        return None if self.runner == "local" else self.runner


def _apprise_understands(url: str) -> bool:
    """Ask Apprise whether it can parse ``url``, keeping its log (which would print the
    URL, token included) quiet."""
    import logging

    import apprise

    logger = logging.getLogger("apprise")
    level, logger.disabled = logger.level, True
    try:
        return bool(apprise.Apprise().add(url))
    finally:
        logger.disabled = False
        logger.setLevel(level)


def _pairs(raw: Any, path: Path | None, key: str) -> list[tuple[str, str]]:
    """A list of [A, B] actor-id pairs, each sorted, without repeats."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{_where(path, key)}: expected a list of [A, B] actor-id pairs")
    pairs: list[tuple[str, str]] = []
    for i, pair in enumerate(raw):
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(a, str) and ACTOR_ID.match(a) for a in pair)
            or pair[0] == pair[1]
        ):
            raise ConfigError(
                f"{_where(path, f'{key}[{i}]')}: expected two different upper-case actor "
                f"ids like [RUS, ISR], got {pair!r}"
            )
        a, b = sorted(pair)
        if (a, b) not in pairs:
            pairs.append((a, b))
    return pairs


def _string_keys(mapping: dict, path: Path | None, key: str) -> None:
    """Keys must be names: ``1: true`` is a typo, not a setting."""
    for k in mapping:
        if not isinstance(k, str):
            raise ConfigError(f"{_where(path, key)}: unexpected key {k!r}; expected a name")


def _where(path: Path | None, key: str) -> str:
    return f"{path}: {key}" if path else key


def _expand_env(value: str, path: Path | None, key: str) -> str:
    """Replace ``${NAME}`` with the environment variable, so secrets stay out of the file."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{_where(path, key)}: environment variable {name} is not set "
                f"(the value refers to ${{{name}}})"
            )
        return os.environ[name]

    return ENV_VAR.sub(sub, value)


def _resolve(base: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (base / p)


def parse_config(data: Any, path: Path | None = None, base: Path | None = None) -> Config:
    """Validate an already-loaded YAML mapping and return a :class:`Config`."""
    base = base or (path.parent if path else Path.cwd())
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{_where(path, '(top level)')}: expected a mapping of keys, got {type(data).__name__}"
        )
    _string_keys(data, path, "(top level)")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"{_where(path, unknown[0])}: unknown key; expected one of {', '.join(sorted(KNOWN_KEYS))}"
        )

    database = data.get("database", "data/corpus.db")
    if not isinstance(database, str) or not database.strip():
        raise ConfigError(f"{_where(path, 'database')}: expected a file path, got {database!r}")

    feeds_raw = data.get("feeds", [])
    if feeds_raw is None:
        feeds_raw = []
    if not isinstance(feeds_raw, list):
        raise ConfigError(f"{_where(path, 'feeds')}: expected a list of {{url, name}} entries")
    feeds: list[FeedConfig] = []
    for i, item in enumerate(feeds_raw):
        key = f"feeds[{i}]"
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{_where(path, key)}: expected a mapping with 'url', got {item!r}")
        _string_keys(item, path, key)
        extra = sorted(set(item) - {"url", "name"})
        if extra:
            raise ConfigError(
                f"{_where(path, key + '.' + extra[0])}: unknown key; "
                "expected 'url' and optionally 'name'"
            )
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(
                f"{_where(path, key + '.url')}: expected an http(s) URL or a file path"
            )
        url = url.strip()
        try:
            parts = urlparse(url)
            parts.port  # noqa: B018 - raises ValueError for a malformed host or port
        except ValueError as exc:
            raise ConfigError(
                f"{_where(path, key + '.url')}: malformed URL {url!r} ({exc})"
            ) from None
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.hostname:
                raise ConfigError(f"{_where(path, key + '.url')}: {url!r} has no host")
        elif scheme in ("", "file") or (len(scheme) == 1 and os.name == "nt"):
            url = str(_resolve(base, url[7:] if scheme == "file" else url))
        else:
            raise ConfigError(
                f"{_where(path, key + '.url')}: unsupported scheme {scheme!r} in {url!r}; "
                "expected http, https or a local file path"
            )
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{_where(path, key + '.name')}: expected text, got {name!r}")
        if any(f.url == url for f in feeds):
            raise ConfigError(f"{_where(path, key + '.url')}: {url} is listed twice")
        feeds.append(FeedConfig(url=url, name=name))

    pairs = _pairs(data["pairs"], path, "pairs") if "pairs" in data else list(DEFAULT_PAIRS)

    alerts_raw = data.get("alerts", []) or []
    if not isinstance(alerts_raw, list):
        raise ConfigError(f"{_where(path, 'alerts')}: expected a list of {{apprise: URL}} entries")
    alerts: list[str] = []
    alert_pairs: dict[str, tuple[tuple[str, str], ...]] = {}
    digest: set[str] = set()
    caps: dict[str, int] = {}
    admin: list[str] = []
    for i, item in enumerate(alerts_raw):
        key = f"alerts[{i}]"
        if isinstance(item, str):
            item = {"apprise": item}
        if not isinstance(item, dict) or not isinstance(item.get("apprise"), str):
            raise ConfigError(f"{_where(path, key)}: expected {{apprise: URL}}, got {item!r}")
        _string_keys(item, path, key)
        extra = sorted(set(item) - ALERT_KEYS)
        if extra:
            raise ConfigError(
                f"{_where(path, key + '.' + extra[0])}: unknown key; expected 'apprise' and "
                f"optionally {', '.join(repr(k) for k in sorted(ALERT_KEYS - {'apprise'}))}"
            )
        url = _expand_env(item["apprise"].strip(), path, key + ".apprise")
        if "://" not in url:
            raise ConfigError(
                f"{_where(path, key + '.apprise')}: expected an Apprise URL "
                "such as json://host/path or slack://tokens"
            )
        if not _apprise_understands(url):
            raise ConfigError(
                f"{_where(path, key + '.apprise')}: {redact_url(url)} is not a URL Apprise "
                "understands (see https://github.com/caronc/apprise/wiki for the formats)"
            )
        if url in alerts or url in admin:
            raise ConfigError(f"{_where(path, key + '.apprise')}: the same URL is listed twice")
        is_admin = item.get("admin", False)
        if not isinstance(is_admin, bool):
            raise ConfigError(f"{_where(path, key + '.admin')}: expected true or false")
        mode = item.get("mode", "immediate")
        if mode not in ("immediate", "digest"):
            raise ConfigError(
                f"{_where(path, key + '.mode')}: expected 'immediate' or 'digest', got {mode!r}"
            )
        cap = item.get("max_per_hour")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ConfigError(
                f"{_where(path, key + '.max_per_hour')}: expected a whole number of 1 or more, "
                f"got {cap!r}"
            )
        if is_admin:
            admin.append(url)
            if "pairs" not in item:
                continue  # an admin channel gets pair alerts only when it lists pairs
        alerts.append(url)
        if mode == "digest":
            digest.add(url)
        if cap is not None:
            caps[url] = cap
        if "pairs" in item:
            routed = _pairs(item["pairs"], path, key + ".pairs")
            unknown_pairs = [p for p in routed if p not in pairs]
            if unknown_pairs:
                raise ConfigError(
                    f"{_where(path, key + '.pairs')}: {list(unknown_pairs[0])} is not a tracked "
                    "pair (add it to 'pairs' first)"
                )
            alert_pairs[url] = tuple(routed)

    network = data.get("network", {}) or {}
    if not isinstance(network, dict):
        raise ConfigError(f"{_where(path, 'network')}: expected a mapping")
    _string_keys(network, path, "network")
    extra = sorted(set(network) - {"allow_private_addresses"})
    if extra:
        raise ConfigError(
            f"{_where(path, 'network.' + extra[0])}: unknown key; "
            "expected 'allow_private_addresses'"
        )
    allow_private = network.get("allow_private_addresses", False)
    if not isinstance(allow_private, bool):
        raise ConfigError(
            f"{_where(path, 'network.allow_private_addresses')}: expected true or "
            f"false, got {allow_private!r}"
        )

    seeds_raw = data.get("seeds", "seeds")
    if seeds_raw is not None and not isinstance(seeds_raw, str):
        raise ConfigError(f"{_where(path, 'seeds')}: expected a folder path, got {seeds_raw!r}")

    topic = data.get("topic", {}) or {}
    if not isinstance(topic, dict) or set(topic) - {"threshold"}:
        raise ConfigError(f"{_where(path, 'topic')}: expected a mapping with 'threshold'")
    threshold = topic.get("threshold", 0.35)
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 <= threshold <= 1
    ):
        raise ConfigError(
            f"{_where(path, 'topic.threshold')}: expected a number from 0 to 1, got {threshold!r}"
        )

    fetch_raw = data.get("fetch", {}) or {}
    if not isinstance(fetch_raw, dict):
        raise ConfigError(f"{_where(path, 'fetch')}: expected a mapping")
    _string_keys(fetch_raw, path, "fetch")
    defaults = FetchConfig()
    fetch_kwargs: dict[str, Any] = {}
    for key, value in fetch_raw.items():
        if not hasattr(defaults, key):
            raise ConfigError(
                f"{_where(path, 'fetch.' + key)}: unknown key; expected one of "
                "timeout, max_feed_bytes, max_page_bytes, user_agent"
            )
        expected = type(getattr(defaults, key))
        ok = (
            isinstance(value, str)
            if expected is str
            else (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and math.isfinite(value)
                and value > 0
            )
        )
        if not ok:
            raise ConfigError(
                f"{_where(path, 'fetch.' + key)}: expected a positive "
                f"{'text' if expected is str else 'number'}, got {value!r}"
            )
        fetch_kwargs[key] = expected(value)

    polling = _polling(data.get("polling", {}), path)
    runner = data.get("runner", "local")
    if not isinstance(runner, str) or not (
        runner == "local" or urlparse(runner).scheme in DASK_SCHEMES
    ):
        raise ConfigError(
            f"{_where(path, 'runner')}: expected 'local' or the address of a Dask scheduler "
            f"such as tcp://10.0.0.5:8786, got {runner!r}"
        )

    return Config(
        path=path,
        database=_resolve(base, database.strip()),
        feeds=feeds,
        pairs=pairs,
        alerts=alerts,
        alert_pairs=alert_pairs,
        digest_channels=frozenset(digest),
        alert_caps=caps,
        admin_alerts=admin,
        allow_private_addresses=allow_private,
        seeds=_resolve(base, seeds_raw) if seeds_raw else None,
        topic_threshold=float(threshold),
        fetch=FetchConfig(**fetch_kwargs),
        polling=polling,
        runner=runner,
    )


def _polling(raw: Any, path: Path | None) -> PollingConfig:
    """The ``polling`` section: durations (seconds or ``10m``/``2h``/``1d``) and counts."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{_where(path, 'polling')}: expected a mapping")
    _string_keys(raw, path, "polling")
    defaults = PollingConfig()
    names = list(defaults.__dataclass_fields__)
    values: dict[str, int] = {}
    for key, value in raw.items():
        where = _where(path, "polling." + key)
        if key not in names:
            raise ConfigError(f"{where}: unknown key; expected one of {', '.join(names)}")
        if key in ("concurrency", "per_host"):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
                raise ConfigError(f"{where}: expected a whole number from 1 to 256, got {value!r}")
            values[key] = value
            continue
        match = DURATION.match(str(value)) if not isinstance(value, bool) else None
        if not match or float(match.group(1)) <= 0:
            raise ConfigError(
                f"{where}: expected a duration such as 600, 10m, 2h or 1d, got {value!r}"
            )
        values[key] = int(float(match.group(1)) * UNITS[match.group(2)])
    polling = PollingConfig(**values)
    if polling.min_interval > polling.max_interval:
        raise ConfigError(
            f"{_where(path, 'polling.min_interval')}: {polling.min_interval} s is more than "
            f"polling.max_interval ({polling.max_interval} s)"
        )
    return polling


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the YAML file at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read configuration file ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}, line {mark.line + 1}" if mark else str(p)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    return parse_config(data, path=p.resolve())


WEBHOOK_SCHEMES = {"json", "jsons", "xml", "xmls", "form", "forms"}


def redact_url(url: str) -> str:
    """Show a notification URL without the tokens, passwords or paths it may carry.

    Many Apprise services carry their token where a host would be (``tgram://TOKEN/CHAT``),
    so only webhook-like schemes keep their host; every other scheme shows just its name.
    """
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in WEBHOOK_SCHEMES:
        try:
            host = parsed.hostname or ""
            port = parsed.port
        except ValueError:
            host, port = "", None
        if host:
            return f"{scheme}://{host}{f':{port}' if port else ''}/…"
    return f"{scheme}://…"
