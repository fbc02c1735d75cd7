"""config.toml: loading and validation.

Every key but the three secrets' owners has a documented default, so a short file runs.
Errors come out as one line naming the key (``ConfigError``), never a traceback.
Secrets may come from the environment instead of the file.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

ENV_SECRETS = {
    ("telegram", "token"): "SHOP_TELEGRAM_TOKEN",
    ("provider", "key"): "SHOP_PROVIDER_KEY",
    ("telegram", "payments_token"): "SHOP_PAYMENTS_TOKEN",
    ("kakao", "rest_api_key"): "SHOP_KAKAO_REST_API_KEY",
    ("card", "secret_key"): "SHOP_TOSS_SECRET_KEY",
}


class ConfigError(Exception):
    """A config problem, worded for the shop owner."""


def _decimal_text(value: Any) -> Any:
    # TOML floats are binary; go through their repr so 1.1 stays "1.1", not 1.100000000000000088.
    if isinstance(value, float):
        return str(value)
    return value


DecimalIn = Annotated[Decimal, BeforeValidator(_decimal_text)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramConfig(_Section):
    token: SecretStr | None = Field(None, description="BotFather token; required for `run`")
    base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL (a self-hosted Bot API server or the emulator)",
    )
    admin_ids: list[int] = Field(default_factory=list, description="Telegram ids of the admins")
    payments_token: SecretStr | None = Field(
        None, description="payment provider token; not needed for Telegram Stars"
    )


class ProviderConfig(_Section):
    url: str = Field(..., description="full API URL of the SMM panel, e.g. https://panel/api/v2")
    key: SecretStr = Field(..., description="panel API key")
    timeout_seconds: float = Field(20.0, gt=0, le=300, description="HTTP timeout per panel call")


class ShopConfig(_Section):
    name: str = Field("MASK24", min_length=1, description="shop name shown to customers")
    currency: str = Field("KRW", pattern="^KRW$", description="shop currency (integer 원 only)")
    exchange_rate: DecimalIn = Field(
        Decimal("1400"), gt=0, description="KRW per panel currency unit"
    )
    markup_percent: DecimalIn = Field(
        Decimal("50"), ge=0, le=10000, description="markup over the panel rate, percent"
    )
    new_services_visible: bool = Field(
        True, description="whether services that appear in a catalog sync are sold at once"
    )
    quote_ttl_minutes: int = Field(
        15, ge=1, le=1440, description="how long a confirmation card's price is honoured"
    )


class StorageConfig(_Section):
    path: str = Field("data/shop.sqlite3", description="SQLite database file")


class SchedulerConfig(_Section):
    poll_interval_seconds: float = Field(120, ge=1, description="panel status poll period")
    catalog_sync_interval_seconds: float = Field(21600, ge=60, description="catalog sync period")
    notify_started: bool = Field(False, description="tell customers when delivery starts")
    panel_balance_alert_below: DecimalIn = Field(
        Decimal("5"), ge=0, description="alert admins when the panel balance falls below this"
    )
    not_started_alert_hours: int = Field(48, ge=1, description="FAQ: 48 h not started rule")
    stuck_order_hours: float = Field(
        72,
        gt=0,
        description="an order the panel answers only with errors (e.g. an unknown "
        "id) for this long goes to the review queue, admins alerted once",
    )
    stalled_order_hours: float = Field(
        168,
        gt=0,
        description="an unfinished order whose panel status has not moved for this "
        "long goes to the review queue (the panel API gives no per-service delivery time)",
    )


class TopupConfig(_Section):
    bank_account: str = Field(
        "국민은행 000000-00-000000 (예금주: 상점명)",
        description="bank account text shown to customers",
    )
    min_amount: int = Field(5000, ge=1, description="smallest top-up, 원")
    max_amount: int = Field(2_000_000, ge=1, description="largest top-up, 원")
    expire_hours: int = Field(48, ge=1, description="pending bank transfers expire after this")
    krw_per_star: int | None = Field(
        None, ge=1, description="원 per Telegram Star; unset hides Stars top-up"
    )

    @model_validator(mode="after")
    def _bounds(self) -> TopupConfig:
        if self.min_amount > self.max_amount:
            raise ValueError("min_amount must not exceed max_amount")
        return self


class SupportConfig(_Section):
    phone: str = Field("010-8592-8450", description="urgent support phone")
    kakao_url: str = Field("https://pf.kakao.com/", description="KakaoTalk 1:1 chat link")
    timezone: str = Field("Asia/Seoul", description="time zone for support hours and dates")


def _listen(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError('must be "host:port", e.g. "127.0.0.1:8090"')
    return value


def _public_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise ValueError("must start with https:// (or http:// for a local run)")
    return value


class WebConfig(_Section):
    listen: Annotated[str, AfterValidator(_listen)] = Field(
        "127.0.0.1:8090",
        description="host:port the shop's HTTP face listens on (put a reverse proxy in front)",
    )
    public_url: Annotated[str | None, AfterValidator(_public_url)] = Field(
        None,
        description="the https address the proxy serves the HTTP face under; "
        "needed for card payment and the console's login links",
    )
    console: bool = Field(True, description="serve the owner's web console on the HTTP face")
    session_idle_minutes: int = Field(
        60, ge=1, le=7 * 24 * 60, description="a console session ends after this much idleness"
    )


class KakaoConfig(_Section):
    enabled: bool = Field(False, description="serve the KakaoTalk channel chatbot (skill route)")
    skill_path: str = Field(
        "/kakao/skill", pattern="^/[A-Za-z0-9/_-]*$", description="path of the skill route"
    )
    bot_id: str | None = Field(
        None, description="Open Builder bot id: checked against bot.id, used by the Event API"
    )
    router_block_id: str | None = Field(
        None,
        description="id of the Open Builder block every button and quick reply targets "
        "(unset: they send their label as text)",
    )
    event_api_url: str = Field("https://bot-api.kakao.com", description="Kakao Event API base URL")
    rest_api_key: SecretStr | None = Field(
        None, description="Kakao REST API key for the Event API (news pushed to customers)"
    )
    event_name: str | None = Field(
        None, description="the Open Builder event whose block shows the news text"
    )

    @property
    def event_api_ready(self) -> bool:
        """The Event API is used only when all three parts are configured."""
        return bool(self.rest_api_key and self.bot_id and self.event_name)


class CardConfig(_Section):
    provider: str = Field("toss", pattern="^toss$", description="card payment gateway")
    client_key: str | None = Field(None, description="the gateway's client key (public)")
    secret_key: SecretStr | None = Field(None, description="the gateway's secret key")
    api_url: str = Field("https://api.tosspayments.com", description="the gateway's API base URL")
    sdk_url: str = Field(
        "https://js.tosspayments.com/v2/standard",
        pattern="^https?://",
        description="the gateway's browser SDK, the one outside script of the pay page",
    )
    min_amount: int = Field(5000, ge=100, description="smallest card top-up, 원")
    max_amount: int = Field(2_000_000, ge=100, description="largest card top-up, 원")
    checkout_minutes: int = Field(15, ge=1, description="how long a card checkout stays payable")

    @property
    def configured(self) -> bool:
        return bool(self.client_key and self.secret_key and self.secret_key.get_secret_value())

    @model_validator(mode="after")
    def _bounds(self) -> CardConfig:
        if self.min_amount > self.max_amount:
            raise ValueError("min_amount must not exceed max_amount")
        return self

    @model_validator(mode="after")
    def _key_set(self) -> CardConfig:
        # The payment window takes the "API 개별 연동" keys; widget keys (…_gck_/…_gsk_)
        # fail in it, and a test client key with a live secret key fails every payment.
        ck = self.client_key or ""
        sk = self.secret_key.get_secret_value() if self.secret_key else ""
        if ck and not ck.startswith(("test_ck_", "live_ck_")):
            raise ValueError("client_key must be a payment-window key: test_ck_… or live_ck_…")
        if sk and not sk.startswith(("test_sk_", "live_sk_")):
            raise ValueError("secret_key must be a payment-window key: test_sk_… or live_sk_…")
        if ck and sk and ck[:4] != sk[:4]:
            raise ValueError("client_key and secret_key must be one set (both test_ or live_)")
        return self


class Config(_Section):
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    provider: ProviderConfig
    shop: ShopConfig = Field(default_factory=ShopConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    topup: TopupConfig = Field(default_factory=TopupConfig)
    support: SupportConfig = Field(default_factory=SupportConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    kakao: KakaoConfig = Field(default_factory=KakaoConfig)
    card: CardConfig = Field(default_factory=CardConfig)

    def secrets(self) -> list[str]:
        """Every secret value, for log scrubbing."""
        found = [
            self.provider.key, self.telegram.token, self.telegram.payments_token,
            self.kakao.rest_api_key, self.card.secret_key,
        ]  # fmt: skip
        return [s.get_secret_value() for s in found if s and s.get_secret_value()]

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram.token and self.telegram.token.get_secret_value())

    @property
    def web_enabled(self) -> bool:
        """The HTTP face runs when something needs it: Kakao, or a public address."""
        return self.kakao.enabled or self.web.public_url is not None

    @property
    def card_enabled(self) -> bool:
        return self.card.configured and self.web.public_url is not None


def _apply_env(raw: dict[str, Any], environ: dict[str, str]) -> None:
    for (section, key), var in ENV_SECRETS.items():
        if environ.get(var):
            raw.setdefault(section, {})[key] = environ[var]


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    if first["type"] == "missing":
        return f"missing required key {where}"
    if first["type"] == "extra_forbidden":
        return f"unknown key {where}"
    return f"bad value for {where}: {first['msg']}"


def parse_config(raw: dict[str, Any], environ: dict[str, str] | None = None) -> Config:
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    _apply_env(raw, dict(os.environ) if environ is None else environ)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    config = parse_config(raw, environ)
    # A relative database path is relative to the config file, so cwd does not matter.
    db = Path(config.storage.path)
    if not db.is_absolute():
        db = path.resolve().parent / db
        config = config.model_copy(
            update={"storage": config.storage.model_copy(update={"path": str(db)})}
        )
    return config


def require_front(config: Config) -> None:
    """``run`` needs at least one front: a Telegram token, or the Kakao skill enabled."""
    if not config.telegram_enabled and not config.kakao.enabled:
        raise ConfigError(
            "missing required key telegram.token (or set SHOP_TELEGRAM_TOKEN), "
            "or enable [kakao] for a KakaoTalk-only shop"
        )


def require_token(config: Config) -> str:
    token = config.telegram.token.get_secret_value() if config.telegram.token else ""
    if not token:
        raise ConfigError("missing required key telegram.token (or set SHOP_TELEGRAM_TOKEN)")
    return token


def _default_text(field: Any) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        return "unset"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Decimal):
        return f'`"{value}"`'
    return f"`{value}`"


def reference_table() -> str:
    """The README's table of config keys, generated from the models so it cannot drift."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for section, sfield in Config.model_fields.items():
        model = sfield.annotation
        for key, field in model.model_fields.items():
            meaning = field.description or ""
            env = next((v for (s, k), v in ENV_SECRETS.items() if (s, k) == (section, key)), None)
            if env:
                meaning += f" (env `{env}`)"
            lines.append(f"| `{section}.{key}` | {_default_text(field)} | {meaning} |")
    return "\n".join(lines)
