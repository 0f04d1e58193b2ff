from core.csv_export import csv_safe, streaming_csv


def _body(response):
    return b"".join(response.streaming_content).decode("utf-8")


def test_text_that_starts_like_a_formula_is_defused_numbers_are_not():
    assert csv_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_safe("@SUM(A1)") == "'@SUM(A1)"
    assert csv_safe("+8613800138000") == "'+8613800138000"  # Excel keeps it as text, not 8.6E+12
    assert csv_safe(-5) == -5 and csv_safe("小王") == "小王" and csv_safe("") == ""


def test_streaming_csv_has_a_bom_a_header_and_every_row():
    response = streaming_csv("x.csv", ["名称", "数量"], ([f"商品{i}", i] for i in range(3)))
    assert response["Content-Disposition"] == 'attachment; filename="x.csv"'
    body = _body(response)
    assert body.startswith("\ufeff名称,数量\r\n")
    assert body.splitlines()[1:] == ["商品0,0", "商品1,1", "商品2,2"]


def test_streaming_csv_defuses_every_text_cell():
    body = _body(streaming_csv("x.csv", ["a"], [["=1+1", "-2"]]))
    assert "'=1+1,'-2" in body
