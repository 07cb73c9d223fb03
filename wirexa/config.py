"""One settings object for the whole engine: defaults, then a TOML file, then WIREXA_* env vars."""

from __future__ import annotations

import os
import tomllib
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WIREXA_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("wirexa-data")
    # The base URL users' servers and browsers reach this engine at (RecordingUrl, media_url).
    # Empty: http://host:port.
    public_url: str = ""
    # Where recordings (WAV and MP3) are kept. Empty: data_dir/recordings.
    recordings_dir: str = ""
    # Empty means SQLite in data_dir; a postgresql+psycopg:// URL selects PostgreSQL.
    database_url: str = ""
    # SQLite synchronous mode: FULL fsyncs every commit (a power cut loses nothing committed).
    sqlite_synchronous: str = "FULL"
    # Names this engine as the owner of the live calls it runs. Empty: kept in data_dir/node-id,
    # so a restarted engine recognises (and closes out) the calls it owned before a crash.
    node_id: str = ""

    # Default project created on first start (or taken from these).
    project_id: str = ""
    api_token: str = ""

    # Outbound calls handed to the dialer per second per project (a project may override).
    default_cps: float = 10.0
    # API requests per second per project (token bucket); 0 disables the limit.
    api_rate_limit: float = 2000.0
    api_rate_burst: int = 4000

    # Billing: price per started minute for projects that have billing enabled.
    price_per_minute: Decimal = Decimal("0.01")
    price_unit: str = "USD"

    # How often the outbound queue looks for calls created by other API nodes.
    queue_poll_interval: float = 0.25

    # SIP: where the engine listens, and the trunk outbound calls go through.
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # Empty: the built-in sandbox carrier (started by `wirexa up`) is the trunk.
    trunk_host: str = ""
    trunk_port: int = 5060
    trunk_username: str = ""
    trunk_password: str = ""
    # Source addresses allowed to send us INVITEs (comma-separated IPs or CIDRs); the trunk
    # host is always allowed.
    inbound_allow: str = "127.0.0.1/32"
    # Digest credentials other sources must present (401 challenge); empty: they get 403.
    inbound_username: str = ""
    inbound_password: str = ""

    # RTP: the address in our SDP and the port range (even ports) calls take sockets from.
    rtp_host: str = "127.0.0.1"
    rtp_port_min: int = 10000
    rtp_port_max: int = 20000

    # Webhooks (status, recording, AMD callbacks): retry delays in seconds after the first
    # attempt (seed 001: +60 s, +5 min, +15 min, then failed); timeouts, connection errors and
    # 5xx are retried, 4xx only with webhook_retry_4xx; a URL's #rc/#rp fragment overrides both.
    webhook_retry_delays: str = "60,300,900"
    webhook_retry_4xx: bool = False
    webhook_concurrency: int = 200  # requests in flight
    webhook_per_host: int = 16  # in flight to one host; more wait so others are not held up
    webhook_poll_interval: float = 1.0  # how often retries that came due are looked for

    # The sandbox carrier (virtual phones) that `wirexa up` runs beside the engine.
    sandbox: bool = True
    sandbox_sip_port: int = 5080
    sandbox_http_port: int = 8090

    # Text to speech (wirexa.tts). Cloud providers are tried in the order Polly, Google,
    # ElevenLabs, Azure, each only when its credentials are set; local espeak-ng is the last
    # resort. Empty endpoints mean the vendor's public API (set them for proxies and tests).
    polly_access_key_id: str = ""
    polly_secret_access_key: str = ""
    polly_session_token: str = ""  # only for temporary (STS) credentials
    polly_region: str = "us-east-1"
    polly_endpoint: str = ""
    polly_engine: str = "standard"  # standard | neural (a "polly.Joanna-Neural" voice forces neural)
    google_tts_api_key: str = ""
    google_tts_endpoint: str = ""
    elevenlabs_api_key: str = ""
    elevenlabs_endpoint: str = ""
    elevenlabs_model: str = "eleven_multilingual_v2"
    azure_speech_key: str = ""
    azure_speech_region: str = "eastus"
    azure_speech_endpoint: str = ""
    # Seconds one cloud request may take before the next provider is tried.
    tts_timeout: float = 5.0
    # Seconds a cloud provider that just failed is left out, so an outage costs one timeout,
    # not one per sentence.
    tts_retry_after: float = 30.0

    def webhook_retry_schedule(self) -> list[float]:
        return [float(x) for x in self.webhook_retry_delays.replace(" ", "").split(",") if x]

    def webhook_retry_on(self) -> frozenset[str]:
        return frozenset({"ct", "rt", "5xx"} | ({"4xx"} if self.webhook_retry_4xx else set()))

    def resolve_node_id(self) -> str:
        if not self.node_id:
            path = self.data_dir / "node-id"
            if path.exists():
                self.node_id = path.read_text().strip()
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self.node_id = f"node-{uuid.uuid4().hex[:12]}"
                path.write_text(self.node_id + "\n")
        return self.node_id

    @property
    def base_url(self) -> str:
        """public_url, or where the API listens (a wildcard address as loopback)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else "[::1]" if self.host == "::" else self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def recordings_path(self) -> Path:
        return Path(self.recordings_dir) if self.recordings_dir else self.data_dir / "recordings"

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'wirexa.db').resolve()}"


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Settings from an optional TOML file (WIREXA_CONFIG), overridden by env vars and `overrides`."""
    path = config_file or os.environ.get("WIREXA_CONFIG")
    file_values: dict[str, Any] = {}
    if path:
        with open(path, "rb") as f:
            file_values = tomllib.load(f)
    env_keys = {k[len("WIREXA_"):].lower() for k in os.environ if k.startswith("WIREXA_")}
    # Env vars win over the file: drop file keys that the environment sets.
    file_values = {k: v for k, v in file_values.items() if k not in env_keys}
    return Settings(**{**file_values, **overrides})
