import pytest

from scanner.masking import mask_value, redact_text


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
