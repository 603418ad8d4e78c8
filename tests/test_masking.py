import pytest

from scanner.masking import mask_value, public_url, redact_text


def test_mask_value_keeps_phone_shape():
    assert mask_value("13812345678") == "138******78"


@pytest.mark.parametrize(
    "value",
    [
        "13812345678",
        "110101199003074514",
        "LSVAU2180N2183294",
        "张三丰",
        "6222021234567890123",
        "zhang.wei@example.com",
        "京A12345",
    ],
)
def test_mask_value_never_returns_value(value):
    assert mask_value(value) != value
    assert value not in mask_value(value)


def test_mask_value_keeps_email_domain():
    assert mask_value("zhang.wei@example.com") == "z***@example.com"


def test_redact_text_masks_quoted_rows():
    message = "CSV parse error: Expected 3 columns, got 4: 张三,13812345678,a@b.cn"
    redacted = redact_text(message)
    assert "13812345678" not in redacted
    assert "张三" not in redacted
    assert "a@b.cn" not in redacted
    assert "Expected" in redacted


def test_redact_text_limits_length():
    assert len(redact_text("x" * 2000, limit=100)) == 100


@pytest.mark.parametrize(
    ("source", "public"),
    [
        (
            "postgresql://scanner:pw@127.0.0.1:5432/crm",
            "postgresql://scanner@127.0.0.1:5432/crm",
        ),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?sslmode=require",
        ),
        ("s3://bucket/p?X-Amz-Signature=abc&X-Amz-Credential=k", "s3://bucket/p"),
        ("sqlite:////abs/app.db", "sqlite:////abs/app.db"),
        ("exports/*.csv", "exports/*.csv"),
    ],
)
def test_public_url_drops_secrets(source, public):
    assert public_url(source) == public


@pytest.mark.parametrize(
    "number",
    ["186-7654-0077", "6222 0212 3456 7890", "+86 138 1234 5678", "(010) 6552-1234"],
)
def test_redact_text_masks_grouped_digits(number):
    redacted = redact_text(f"invalid input value: bad row: {number}")
    digits = "".join(c for c in number if c.isdigit())
    assert digits[3:-2] not in "".join(c for c in redacted if c.isdigit())
    assert "invalid input value" in redacted
