"""Personal-information protection: vault, blind index, masking, log scrubbing, key file."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import stat

import pytest
from cryptography.fernet import Fernet

from gateway import privacy
from gateway.privacy import (
    PiiKeyError,
    PiiLogFilter,
    Vault,
    install_log_filter,
    mask_id_number,
    mask_mobile,
    mask_name,
    scrub_text,
)
from gateway.settings import SettingsError

ID = "11010519491231002X"
MOBILE = "13800138000"


@pytest.fixture
def key_a() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def key_b() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def index_key() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def vault(key_a, index_key) -> Vault:
    return Vault([key_a], index_key)


# -- encryption ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [ID, MOBILE, "张三 ·  ok", ""])
def test_round_trip(vault, text):
    token = vault.encrypt(text)
    assert isinstance(token, str) and (not text or text not in token)
    assert vault.decrypt(token) == text
    assert vault.decrypt(token.encode()) == text


def test_tokens_are_randomised_but_blind_index_is_stable(vault):
    assert vault.encrypt(ID) != vault.encrypt(ID)
    assert vault.blind_index("id:01", ID) == vault.blind_index("id:01", ID)


def test_rotation_without_downtime(key_a, key_b, index_key):
    old = Vault([key_a], index_key)
    token_a = old.encrypt(ID)

    both = Vault([key_b, key_a], index_key)  # new key in front, old one kept
    assert both.decrypt(token_a) == ID
    assert both.decrypt(both.encrypt(MOBILE)) == MOBILE  # new writes go under key B

    rotated = both.rotate(token_a)
    only_b = Vault([key_b], index_key)  # old key dropped after re-encryption
    assert only_b.decrypt(rotated) == ID
    with pytest.raises(PiiKeyError):
        only_b.decrypt(token_a)  # a token nobody rotated
    with pytest.raises(PiiKeyError):
        only_b.rotate(token_a)
    with pytest.raises(PiiKeyError):
        old.decrypt(rotated)  # the new token is under key B only


def test_newest_key_encrypts(key_a, key_b, index_key):
    token = Vault([key_b, key_a], index_key).encrypt(ID)
    assert Vault([key_b], index_key).decrypt(token) == ID
    with pytest.raises(PiiKeyError):
        Vault([key_a], index_key).decrypt(token)


@pytest.mark.parametrize("token", ["", "not-a-token", "gAAAAA" + "A" * 80])
def test_garbage_token_raises_pii_key_error(vault, token):
    with pytest.raises(PiiKeyError):
        vault.decrypt(token)


def test_encrypt_refuses_non_text(vault):
    with pytest.raises(TypeError):
        vault.encrypt(None)


def test_bad_keys_are_refused_without_echoing_them(index_key):
    with pytest.raises(ValueError, match="#1") as excinfo:
        Vault(["secret-but-not-fernet"], index_key)
    assert "secret-but-not-fernet" not in str(excinfo.value)
    with pytest.raises(ValueError):
        Vault([], index_key)
    with pytest.raises(ValueError):
        Vault([Fernet.generate_key().decode()], "too-short")


def test_repr_hides_keys(key_a, index_key):
    text = repr(Vault([key_a], index_key))
    assert key_a not in text and index_key not in text


# -- blind index ---------------------------------------------------------------------------


def test_blind_index_is_hmac_sha256_of_kind_and_normalised_value(vault, index_key):
    expected = hmac.new(index_key.encode(), f"id:01\x00{ID}".encode(), hashlib.sha256).hexdigest()
    assert vault.blind_index("id:01", ID) == expected
    assert len(expected) == 64


def test_blind_index_is_the_same_from_many_threads_at_once(vault, index_key):
    """Each index is a copy of one keyed HMAC state: threads sharing the vault (a threaded
    server, a sync run's reader) never see each other's messages."""
    values = [f"1101051949123{n:04d}" for n in range(400)]
    expected = [hmac.new(index_key.encode(), f"mobile\x00{v}".encode(), hashlib.sha256).hexdigest()
                for v in values]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            assert list(pool.map(lambda v: vault.blind_index("mobile", v), values)) == expected


def test_blind_index_normalises_case_and_white_space(vault):
    assert vault.blind_index("id:01", "11010519491231002x") == vault.blind_index("id:01", ID)
    assert vault.blind_index("id:01", f"  {ID}\n") == vault.blind_index("id:01", ID)


def test_blind_index_differs_per_kind_and_per_index_key(key_a, vault):
    assert vault.blind_index("id:01", ID) != vault.blind_index("id:02", ID)
    assert vault.blind_index("mobile", MOBILE) != vault.blind_index("id:01", MOBILE)
    other = Vault([key_a], secrets.token_urlsafe(32))
    assert other.blind_index("id:01", ID) != vault.blind_index("id:01", ID)


@pytest.mark.parametrize("kind, value", [("", ID), ("a\x00b", ID), ("id:01", "   ")])
def test_blind_index_refuses_ambiguous_input(vault, kind, value):
    with pytest.raises(ValueError):
        vault.blind_index(kind, value)


# -- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize("value, masked", [
    ("11010119491231123X", "110101********123X"),
    ("110105194912310021", "110105********0021"),
    ("11010519491231002x", "110105********002x"),
    ("110105491231002", "110105*****1002"),      # old 15-digit ID
    ("E12345678", "E1*****78"),                  # passport: at least half hidden
    ("1234567", "*****67"),
    ("1234", "**34"),
    ("12", "**"),
    ("", ""),
    (None, ""),
    (11010519491231002, "110105*******1002"),
])
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize("value, masked", [
    ("13800138000", "138****8000"),
    (" 13800138000 ", "138****8000"),
    ("+8613800138000", "+86*******8000"),
    ("1234567", "***4567"),
    ("12345", "***45"),
    ("123", "***"),
    (None, ""),
    (13800138000, "138****8000"),
])
def test_mask_mobile(value, masked):
    assert mask_mobile(value) == masked


@pytest.mark.parametrize("value, masked", [
    ("王五", "王*"),
    ("张三丰", "张**"),
    ("欧阳娜娜", "欧阳**"),
    ("欧阳锋", "欧阳*"),
    ("欧阳", "欧*"),
    ("买买提·艾力", "买*****"),
    ("王", "*"),
    ("", ""),
    (None, ""),
    (42, "4*"),
])
def test_mask_name(value, masked):
    assert mask_name(value) == masked


def test_masking_never_raises_on_odd_input():
    class Broken:
        def __str__(self):
            raise RuntimeError("boom")

    for fn in (mask_id_number, mask_mobile, mask_name):
        assert fn(Broken()) == ""
        assert isinstance(fn(b"123456789"), str)
        assert isinstance(fn(["x"]), str)


# -- log scrubbing -------------------------------------------------------------------------


@pytest.mark.parametrize("text, clean", [
    (f"id {ID} ok", "id 110105********002X ok"),
    (f"身份证号{ID}已登记", "身份证号110105********002X已登记"),
    (f"mobile={MOBILE};", "mobile=138****8000;"),
    ("手机13912345678。", "手机139****5678。"),
    ("tel +8613800138000", "tel +86138****8000"),
    ("tel 138-0013-8000", "tel 138****8000"),
    ("1110105194912310021", "1110105194912310021"),       # 19 digits: not an ID
    ("sha a11010519491231002Xb", "sha a11010519491231002Xb"),
    ("order 213800138000", "order 213800138000"),         # 12-digit run: not a mobile
    ("12800138000 ts 1718000000000", "12800138000 ts 1718000000000"),
])
def test_scrub_text(text, clean):
    assert scrub_text(text) == clean


@pytest.mark.parametrize("text, clean", [
    # Percent-encoded digits and names in a query string (issue 11, finding 5).
    ("GET /v?id_number=11010519900307123%39 HTTP/1.1", "GET /v?id_number=[withheld] HTTP/1.1"),
    ("GET /v?id%5Fnumber=x1&name=a", "GET /v?id%5Fnumber=[withheld]&name=a"),
    ("GET /v?q=%31%31%30%31%30%35%31%39%39%30%30%33%30%37%31%32%33%39", "GET /v?q=[withheld]"),
    ("GET /v?mobile=%2B86%20138%200013%208000&page=2", "GET /v?mobile=[withheld]&page=2"),
    ("GET /v?q=%2B86%20138%200013%208000", "GET /v?q=[withheld]"),
    ("GET /v?name=%E5%BC%A0%E4%B8%89", "GET /v?name=%E5%BC%A0%E4%B8%89"),  # a name: kept
    # Other document types of the id_type table.
    ("passport E98765432 / EA1234567 / G12345678", "passport E9*****32 / EA*****67 / G1*****78"),
    ("护照号P1234567。", "护照号P1****67。"),
    ("台湾 A123456789", "台湾 A1******89"),
    ("permits C12345678 H1234567801 M12345678", "permits C1*****78 H1*******01 M1*****78"),
    ("香港身份证 A123456(7)", "香港身份证 A1******7)"),
    ("澳门 1234567(8)", "澳门 12******8)"),
    # Mobiles in every spelling.
    ("138.0013.8000", "138****8000"),
    ("+86 (138) 0013 8000", "+86 138****8000"),
    ("(+86)13800138000", "(+86)138****8000"),
    ("0086-138-0013-8000", "0086-138****8000"),
    # Not personal data: left alone.
    ("V1101052612000001Q T110105000123 E12345 b-1234abcd", "V1101052612000001Q T110105000123 E12345 b-1234abcd"),
    ("GET /v?region=11&page=2 duration 12345678", "GET /v?region=11&page=2 duration 12345678"),
])
def test_scrub_text_catches_encoded_forms_other_documents_and_mobiles(text, clean):
    assert scrub_text(text) == clean


def test_the_json_app_log_scrubs_every_form():
    from gateway.logs import JsonFormatter

    record = logging.LogRecord("gateway.tests", logging.WARNING, __file__, 1,
                               "look-up %s failed for %s", ("/v?id_type=05&id_number=E98765432",
                                                            "%31%33%38%30%30%31%33%38%30%30%30"),
                               None)
    PiiLogFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "E98765432" not in line and "%31%33%38" not in line and "[withheld]" in line


@pytest.fixture
def scrubbed_logger(caplog):
    """A logger under ``gateway`` that exists when the filter is installed, as in the app."""
    logger = logging.getLogger("gateway.tests.privacy")
    install_log_filter()
    caplog.set_level(logging.DEBUG, logger="gateway.tests.privacy")
    return logger


def _assert_clean(caplog):
    assert caplog.records
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert ID not in text and ID.lower() not in text and MOBILE not in text
    return text


def test_log_filter_scrubs_percent_args(scrubbed_logger, caplog):
    scrubbed_logger.info("volunteer %s mobile %s registered", ID, MOBILE)
    text = _assert_clean(caplog)
    assert "110105********002X" in text and "138****8000" in text
    assert caplog.records[0].args == ()


def test_log_filter_scrubs_f_strings(scrubbed_logger, caplog):
    scrubbed_logger.warning(f"duplicate volunteer {ID.lower()} / {MOBILE}")
    text = _assert_clean(caplog)
    assert "110105********002x" in text and "138****8000" in text


def test_log_filter_scrubs_mapping_args_and_exceptions(scrubbed_logger, caplog):
    scrubbed_logger.info("%(who)s", {"who": ID})
    try:
        raise ValueError(f"bad mobile {MOBILE}")
    except ValueError:
        scrubbed_logger.exception("failed for %s", ID)
    text = _assert_clean(caplog)
    assert "138****8000" in text and "ValueError" in text


def test_log_filter_leaves_clean_records_alone(scrubbed_logger, caplog):
    scrubbed_logger.info("batch %s: %d records", "b-1", 12)
    record = caplog.records[0]
    assert record.msg == "batch %s: %d records" and record.args == ("b-1", 12)


def test_log_filter_survives_mismatched_args():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s %s " + ID, (MOBILE,), None)
    assert PiiLogFilter().filter(record) is True
    assert ID not in str(record.msg) and MOBILE not in str(record.args)


def test_handler_filter_scrubs_records_propagated_from_other_loggers():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_filter()  # attaches to every root handler present now
        logging.getLogger("thirdparty.privacy_test").error("lookup %s", ID)
    finally:
        root.removeHandler(handler)
    assert ID not in stream.getvalue() and "110105********002X" in stream.getvalue()


def test_filter_is_installed_on_the_named_loggers(vault):
    install_log_filter()
    for name in privacy.LOGGERS:
        assert any(isinstance(f, PiiLogFilter) for f in logging.getLogger(name).filters)


# -- keys from the settings ----------------------------------------------------------------


def test_from_config_generates_key_file_once(tmp_path, caplog):
    keys_dir = tmp_path / "nested" / "keys"
    config = {"PII_ENCRYPTION_KEYS": "", "PII_INDEX_KEY": "", "KEYS_DIR": str(keys_dir)}
    with caplog.at_level(logging.WARNING, logger="gateway.privacy"):
        first = Vault.from_config(config)
    path = keys_dir / "pii.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    stored = json.loads(path.read_text())
    assert len(stored["encryption_keys"]) == 1 and len(stored["index_key"]) >= 32
    assert [f for f in os.listdir(keys_dir)] == ["pii.json"]  # no temporary file left
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(path) in warnings[0].getMessage()
    assert stored["index_key"] not in caplog.text
    assert stored["encryption_keys"][0] not in caplog.text

    before = path.read_bytes()
    caplog.clear()
    second = Vault.from_config(config)
    assert path.read_bytes() == before
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]  # warned once
    assert second.decrypt(first.encrypt(ID)) == ID
    assert second.blind_index("id:01", ID) == first.blind_index("id:01", ID)


def test_from_config_uses_settings_without_touching_keys_dir(tmp_path, key_a, key_b, index_key):
    config = {"PII_ENCRYPTION_KEYS": f" {key_b} , {key_a},", "PII_INDEX_KEY": index_key,
              "KEYS_DIR": str(tmp_path / "keys")}
    token_a = Vault([key_a], index_key).encrypt(ID)
    vault = Vault.from_config(config)
    assert vault.decrypt(token_a) == ID
    assert Vault([key_b], index_key).decrypt(vault.encrypt(MOBILE)) == MOBILE
    assert not (tmp_path / "keys").exists()


def test_from_config_takes_only_the_missing_setting_from_the_file(tmp_path, key_a):
    config = {"PII_ENCRYPTION_KEYS": key_a, "PII_INDEX_KEY": "", "KEYS_DIR": str(tmp_path)}
    vault = Vault.from_config(config)
    assert Vault([key_a], "x" * 32).decrypt(vault.encrypt(ID)) == ID
    index_key = json.loads((tmp_path / "pii.json").read_text())["index_key"]
    assert vault.blind_index("mobile", MOBILE) == Vault([key_a], index_key).blind_index(
        "mobile", MOBILE)


@pytest.mark.parametrize("keys", ["not-a-fernet-key", "{good},short", " , "])
def test_malformed_encryption_keys_raise_settings_error(tmp_path, index_key, keys):
    keys = keys.replace("{good}", Fernet.generate_key().decode())
    config = {"PII_ENCRYPTION_KEYS": keys, "PII_INDEX_KEY": index_key, "KEYS_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="PII_ENCRYPTION_KEYS") as excinfo:
        Vault.from_config(config)
    assert "not-a-fernet-key" not in str(excinfo.value)


def test_short_index_key_raises_settings_error(tmp_path, key_a):
    config = {"PII_ENCRYPTION_KEYS": key_a, "PII_INDEX_KEY": "secret", "KEYS_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="PII_INDEX_KEY"):
        Vault.from_config(config)


@pytest.mark.parametrize("content, setting", [
    ("{not json", "KEYS_DIR"),
    ('["a list"]', "KEYS_DIR"),
    ('{"encryption_keys": [], "index_key": "{index}"}', "PII_ENCRYPTION_KEYS"),
    ('{"encryption_keys": ["bad"], "index_key": "{index}"}', "PII_ENCRYPTION_KEYS"),
    ('{"encryption_keys": ["{good}"], "index_key": 5}', "PII_INDEX_KEY"),
    ('{"encryption_keys": ["{good}"], "index_key": "short"}', "PII_INDEX_KEY"),
])
def test_malformed_key_file_raises_settings_error(tmp_path, content, setting):
    content = content.replace("{good}", Fernet.generate_key().decode()).replace("{index}", "i" * 40)
    (tmp_path / "pii.json").write_text(content)
    os.chmod(tmp_path / "pii.json", 0o600)
    config = {"PII_ENCRYPTION_KEYS": "", "PII_INDEX_KEY": "", "KEYS_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match=setting):
        Vault.from_config(config)


# -- the app -------------------------------------------------------------------------------


@pytest.fixture
def privacy_app(tmp_path):
    from gateway import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                      "KEYS_DIR": str(tmp_path / "keys")})
    yield app
    app.extensions["store.engine"].dispose()


def test_init_app_builds_one_vault(privacy_app, tmp_path):
    assert (tmp_path / "keys" / "pii.json").is_file()
    with privacy_app.app_context():
        assert privacy.vault() is privacy_app.extensions["privacy.vault"]
        assert privacy.vault().decrypt(privacy.vault().encrypt(ID)) == ID
    assert any(isinstance(f, PiiLogFilter) for f in privacy_app.logger.filters)


def test_app_refuses_to_start_with_a_malformed_key(tmp_path):
    from gateway import create_app

    with pytest.raises(SettingsError, match="PII_ENCRYPTION_KEYS"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                    "KEYS_DIR": str(tmp_path / "keys"), "PII_ENCRYPTION_KEYS": "nope"})


def test_cli_generate_key(privacy_app):
    result = privacy_app.test_cli_runner().invoke(args=["pii", "generate-key"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    Fernet(key)  # a valid key
    assert Vault([key, Fernet.generate_key().decode()], "i" * 32).encrypt(ID)


def test_fields_are_aes_gcm_tokens_naming_algorithm_and_key(key_a, key_b, index_key):
    vault = Vault([key_a], index_key)
    token = vault.encrypt(ID)
    assert token.startswith("aesgcm1.") and ID not in token
    assert vault.field_current(token)
    both = Vault([key_b, key_a], index_key)
    assert both.decrypt(token) == ID  # the key id inside picks key A
    assert not both.field_current(token)
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(PiiKeyError):
        vault.decrypt(tampered)


def test_old_fernet_tokens_stay_readable_and_rotate_to_aes_gcm(key_a, key_b, index_key):
    old = Vault([key_a], index_key)
    fernet_token = old.fernet_encrypt(MOBILE)
    assert fernet_token.startswith("gAAAA")
    assert old.decrypt(fernet_token) == MOBILE
    assert not old.field_current(fernet_token)
    moved = old.rotate(fernet_token)  # same key, new algorithm
    assert moved.startswith("aesgcm1.") and old.decrypt(moved) == MOBILE
    assert old.rotate(moved) == moved  # already current: left as it is
    both = Vault([key_b, key_a], index_key)
    rotated = both.rotate(old.fernet_encrypt(ID))
    assert Vault([key_b], index_key).decrypt(rotated) == ID
