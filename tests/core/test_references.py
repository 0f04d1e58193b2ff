"""The reference grammar (core/references.py): builders produce it, check_reference guards it."""

import ast
from pathlib import Path

import pytest

from core import references
from core.references import (
    check_reference,
    doc_ref,
    mall_ref,
    merge_ref,
    order_ref,
    order_step_ref,
    staff_ref,
    step_ref,
    transfer_ref,
)


def test_builders_write_the_grammar():
    assert order_ref("20260101000123") == "order:20260101000123"
    assert order_step_ref("20260101000123", "refund:12") == "order:20260101000123:refund:12"
    assert order_step_ref(7, "pickup:3") == "order:7:pickup:3"
    assert order_step_ref(7, "ship:9") == "order:7:ship:9"
    assert mall_ref(5) == "mall:5"
    assert transfer_ref(8) == "transfer:8"
    assert staff_ref("0f8fad5b-d9cb-469f-a165-70867728950e") == "staff:0f8fad5b-d9cb-469f-a165-70867728950e"
    assert merge_ref(42) == "merge:42"
    assert step_ref("mall:5", "pickup:1") == "mall:5:pickup:1"


@pytest.mark.parametrize("good", ["order:1", "mall:5", "x", "a" * 64, "order:1:refund:12"])
def test_check_reference_returns_a_good_reference_unchanged(good):
    assert check_reference(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "a" * 65, "order:1 ", " order:1", "order:\t1", "order:\n1", "order:\x001", "order:\u30001", None, 1, b"order:1"],
)
def test_check_reference_refuses_empty_long_whitespace_nul_and_non_strings(bad):
    with pytest.raises(ValueError):
        check_reference(bad)


@pytest.mark.parametrize("bad_id", [None, "", True, "1:2"])
def test_builders_refuse_an_id_that_would_not_read_back(bad_id):
    for build in (order_ref, mall_ref, transfer_ref, doc_ref, staff_ref, merge_ref):
        with pytest.raises(ValueError):
            build(bad_id)


@pytest.mark.parametrize("bad_step", ["", ":12", "refund:", None, "refund 12"])
def test_a_step_must_be_a_kind_and_an_id(bad_step):
    with pytest.raises(ValueError):
        order_step_ref(1, bad_step)


def test_a_built_reference_never_exceeds_the_column():
    with pytest.raises(ValueError):
        order_step_ref("9" * 40, "refund:" + "1" * 20)
    with pytest.raises(ValueError):
        mall_ref("1" * 60)


def test_every_builder_named_in_the_docstring_exists():
    doc = references.__doc__
    for kind in ("order:<no>", "order:<no>:<step>", "mall:<id>", "transfer:<id>", "doc:<no>", "staff:<id>", "merge:<id>"):
        assert kind in doc
    assert set(references.__all__) <= set(dir(references))


def test_core_references_imports_no_domain_app():
    source = Path(references.__file__).read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"catalog", "members", "stores", "marketing", "orders", "distribution"}
