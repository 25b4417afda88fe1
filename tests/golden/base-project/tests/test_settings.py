from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from golden_api.settings import (
    Settings,
    describe_settings,
    get_settings,
)


def test_defaults_are_safe_for_development() -> None:
    settings = Settings()

    assert settings.environment == "development"
    assert settings.log_level == "INFO"
    assert settings.log_format == "text"
    assert settings.cors_allow_origins == ()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.workers == 1
    assert settings.max_body_bytes == 1024 * 1024


def test_settings_are_read_from_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("LOG_FORMAT", "json")
    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://a.example.com, https://b.example.com/")
    monkeypatch.setenv("DOCS_ENABLED", "false")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("WORKERS", "4")
    monkeypatch.setenv("MAX_BODY_BYTES", "65536")

    settings = Settings()

    assert settings.environment == "production"
    assert settings.log_level == "DEBUG"
    assert settings.log_format == "json"
    assert settings.cors_allow_origins == ("https://a.example.com", "https://b.example.com")
    assert settings.docs_enabled is False
    assert settings.port == 9000
    assert settings.workers == 4
    assert settings.max_body_bytes == 65536


def test_frontend_origins_are_the_cors_origins_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FRONTEND_ORIGINS", "https://app.example.com/, http://localhost:5173")
    assert Settings().cors_allow_origins == ("https://app.example.com", "http://localhost:5173")

    monkeypatch.setenv("CORS_ALLOW_ORIGINS", "https://other.example.com")
    assert Settings().cors_allow_origins == ("https://other.example.com",)

    # A bad entry is named with both variables it may come from.
    monkeypatch.delenv("CORS_ALLOW_ORIGINS")
    monkeypatch.setenv("FRONTEND_ORIGINS", "app.example.com")
    with pytest.raises(ValidationError, match="FRONTEND_ORIGINS"):
        Settings()


def test_settings_are_read_from_a_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    # A pattern's variable in the same file must not break the base settings.
    env_file.write_text("PORT=8123\nWS_MAX_MESSAGE_BYTES=65536\n")

    settings = Settings(_env_file=env_file)

    assert settings.port == 8123


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ENVIRONMENT", "staging"),
        ("LOG_LEVEL", "verbose"),
        ("LOG_FORMAT", "xml"),
        ("CORS_ALLOW_ORIGINS", "app.example.com"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("WORKERS", "0"),
        ("DOCS_ENABLED", "maybe"),
        # No limit at all, or one too small for any JSON body, is a mistake.
        ("MAX_BODY_BYTES", "0"),
        ("MAX_BODY_BYTES", "1023"),
        ("MAX_BODY_BYTES", str(1024**3 + 1)),
    ],
)
def test_invalid_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as exc_info:
        Settings()

    assert exc_info.value.errors()[0]["loc"] == (name.lower(),)


def test_get_settings_reads_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    monkeypatch.setenv("PORT", "9000")

    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().port == 9000


def test_describe_settings_uses_variable_names_and_masks_secrets() -> None:
    class WithSecret(Settings):
        api_key: SecretStr = SecretStr("s3cr3t")

    described = describe_settings(WithSecret())

    assert described["PORT"] == 8000
    assert described["CORS_ALLOW_ORIGINS"] == []
    assert described["API_KEY"] == "**********"
