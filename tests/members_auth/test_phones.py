import pytest
from django.core.exceptions import ValidationError

from members.auth.phones import normalize_phone


@pytest.mark.parametrize(
    "raw",
    ["13800138000", "+86 138 0013 8000", "+8613800138000", "138-0013-8000", "008613800138000", "8613800138000"],
)
def test_mainland_numbers_are_stored_in_e164(raw):
    assert normalize_phone(raw) == "+8613800138000"


@pytest.mark.parametrize(
    "raw",
    ["", "1380013800", "138001380001", "12800138000", "+1 415 555 0100", "abc13800138000", "+86 02012345678", "１３８００１３８０００", "13８00138000"],
)
def test_malformed_numbers_get_a_clear_chinese_error(raw):
    with pytest.raises(ValidationError) as exc:
        normalize_phone(raw)
    assert exc.value.messages == ["请输入正确的11位手机号码"]
