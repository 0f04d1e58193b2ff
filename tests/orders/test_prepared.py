"""core.prepared: a queryset compiled once per process gives the same rows, with the same related
rows, as the ORM running it afresh, for every shape of values; a shape whose values cannot be found
in the compiled parameters runs through the ORM instead."""

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from catalog.selectors import sellable_skus
from core.prepared import Prepared
from orders.services import checkout as quote_reads
from stores.models import Stock

from .factories import checkout, make_sku

pytestmark = pytest.mark.django_db


def _skus_seen(skus):
    return [(s.pk, s.code, s.price, s.product.name, s.product.category_id, s.image_id, s.product.cover_id)
            for s in skus]


def test_sellable_skus_are_the_orms_for_lists_of_every_length(store):
    skus = [make_sku(f"茶{i}", price=f"{i + 1}.00", stock=3, store=store) for i in range(4)]
    now = timezone.now()
    for n in range(1, 5):
        ids = [s.pk for s in skus[:n]]
        expected = list(sellable_skus(now=now).filter(pk__in=ids).select_related("product__cover", "image"))
        got = quote_reads._sellable(now, ids)
        assert sorted(_skus_seen(got)) == sorted(_skus_seen(expected)) and len(got) == n
        assert all(sku.product.name for sku in got)  # the product came with the row: no query for it
    assert quote_reads._sellable(now, []) == []


def test_the_values_go_where_the_markers_were(store):
    tea = make_sku("龙井", stock=2, store=store)
    later = make_sku("新品", stock=2, store=store)
    later.product.list_at = timezone.now() + timedelta(hours=1)
    later.product.save(update_fields=["list_at"])
    now = timezone.now()
    assert [s.pk for s in quote_reads._sellable(now, [tea.pk, later.pk])] == [tea.pk]
    assert {s.pk for s in quote_reads._sellable(now + timedelta(hours=2), [tea.pk, later.pk])} == {tea.pk, later.pk}
    in_store = quote_reads._sellable_in_store(now + timedelta(hours=2), store.pk, [tea.pk, later.pk])
    assert {sku.pk: sku.available for sku in in_store} == {tea.pk: 2, later.pk: 2}
    Stock.objects.filter(store=store, sku=tea).update(reserved=1)
    assert [sku.available for sku in quote_reads._sellable_in_store(now, store.pk, [tea.pk])] == [1]
    assert [sku.available for sku in quote_reads._sellable_in_store(now, store.pk + 1000, [tea.pk])] == [None]


def test_member_addresses_and_coupons_are_the_buyers(shopper, store, tea):
    from marketing.models import MemberCoupon

    from .factories import make_shopper

    other = make_shopper()
    [member] = quote_reads._member(shopper.pk)
    assert member.user_id == shopper.pk and member.level_id == member.level.pk
    assert [a.pk for a in quote_reads._addresses(shopper.pk)] == list(
        shopper.addresses.order_by("-is_default", "-updated_at", "-pk").values_list("pk", flat=True))
    assert all(a.user_id == shopper.pk for a in quote_reads._addresses(shopper.pk))
    assert not {a.pk for a in quote_reads._addresses(other.pk)} & {a.pk for a in quote_reads._addresses(shopper.pk)}
    assert quote_reads._unused_coupons(shopper.pk, timezone.now()) == list(
        MemberCoupon.objects.filter(user=shopper, status="unused", valid_until__gt=timezone.now()))


def test_a_value_the_backend_converts_runs_through_the_orm(store, monkeypatch):
    tea = make_sku("龙井", stock=2, store=store)
    # as SQLite does with datetimes: the marker never reaches the parameters as it was given
    monkeypatch.setattr(connection.ops, "adapt_datetimefield_value", lambda value: None if value is None else str(value))
    reads = Prepared(lambda now, ids: sellable_skus(now=now).filter(pk__in=ids))
    assert [s.pk for s in reads(timezone.now(), [tea.pk])] == [tea.pk]
    assert list(reads._compiled.values()) == [None]


def test_booleans_are_refused_as_values():
    reads = Prepared(lambda flag: Stock.objects.filter(on_hand__gte=0) if flag else Stock.objects.none())
    with pytest.raises(TypeError):
        reads(True)


@pytest.mark.django_db(transaction=True)
def test_threads_share_one_compiled_statement(store):
    skus = [make_sku(f"茶{i}", stock=1, store=store) for i in range(3)]
    reads = Prepared(lambda store_id, ids: Stock.objects.filter(store_id=store_id, sku_id__in=ids))
    seen, errors = [], []

    def read():
        try:
            seen.append(sorted(row.sku_id for row in reads(store.pk, [s.pk for s in skus])))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and seen == [sorted(s.pk for s in skus)] * 4 and len(reads._compiled) == 1


def test_a_placed_order_matches_its_quote(shopper, store, tea):
    order = checkout(shopper, store, [(tea, 2)])
    assert order.lines.get().quantity == 2 and order.pay_amount > 0


# --- PostgreSQL: server-side prepared statements ------------------------------------------------
def _prepared_on_server():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'core_prepared_%%'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
def test_a_shape_is_prepared_once_per_connection_and_made_again_when_needed(store):
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    tea = make_sku("龙井", stock=2, store=store)
    reads = Prepared(lambda store_id, ids: Stock.objects.filter(store_id=store_id, sku_id__in=ids))
    with CaptureQueriesContext(connection) as captured:
        assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]
        assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]
    [compiled] = reads._compiled.values()
    assert compiled.statement in _prepared_on_server()
    # the PREPARE is not one of the queries; what is recorded still names the table it reads
    assert len(captured) == 2 and all("EXECUTE" in q["sql"] and "stores_stock" in q["sql"] for q in captured)
    # the statements gone from the session (another tool's DEALLOCATE ALL): that run fails, the
    # next ones make them again
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError), transaction.atomic():
        reads(store.pk, [tea.pk])
    assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]
    assert compiled.statement in _prepared_on_server()


def test_behind_a_transaction_pooler_nothing_is_prepared_on_the_server(store, settings):
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    settings.DB_SERVER_PREPARE = False  # PgBouncer in transaction mode shares sessions between clients
    tea = make_sku("龙井", stock=2, store=store)
    reads = Prepared(lambda store_id, ids: Stock.objects.filter(store_id=store_id, sku_id__in=ids))
    before = _prepared_on_server()
    with CaptureQueriesContext(connection) as captured:
        assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]
    [compiled] = reads._compiled.values()
    assert compiled.statement is None and _prepared_on_server() == before
    assert "EXECUTE" not in captured[0]["sql"] and "stores_stock" in captured[0]["sql"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_again_and_a_refused_shape_runs_as_plain_sql(store):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    tea = make_sku("龙井", stock=2, store=store)
    reads = Prepared(lambda store_id, ids: Stock.objects.filter(store_id=store_id, sku_id__in=ids))
    assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]
    connection.close()
    assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]  # autocommit: no savepoint
    [compiled] = reads._compiled.values()
    assert compiled.statement in _prepared_on_server()
    compiled.prepare_sql = "PREPARE x AS SELECT nonsense FROM nowhere"  # as PostgreSQL refusing it
    connection.close()
    with transaction.atomic():
        assert [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]  # the refusal rolled back alone
        assert Stock.objects.filter(sku=tea).count() == 1
    assert compiled.statement is None and [row.sku_id for row in reads(store.pk, [tea.pk])] == [tea.pk]


def test_a_written_out_statement_gives_the_cursors_rows_prepared_once_per_connection(store, shopper):
    from django.contrib.auth import get_user_model
    from django.test.utils import CaptureQueriesContext

    from core.prepared import PreparedSQL
    from orders.services.cart import ticked_lines

    tea, nuts = make_sku("龙井", stock=2, store=store), make_sku("坚果", stock=2, store=store)
    from orders.models import Cart, CartLine

    cart = Cart.objects.create(user=shopper)
    CartLine.objects.create(cart=cart, sku=tea, quantity=2, selected=True)
    CartLine.objects.create(cart=cart, sku=nuts, quantity=1, selected=False)
    assert ticked_lines(shopper.pk) == [(tea.pk, 2)] and ticked_lines(shopper.pk + 1000) == []
    assert get_user_model().objects.get(pk=shopper.pk).username == shopper.username
    with pytest.raises(get_user_model().DoesNotExist):
        get_user_model().objects.get(pk=shopper.pk + 1000)
    reads = PreparedSQL("SELECT sku_id, on_hand FROM stores_stock WHERE store_id = %s AND on_hand >= %s ORDER BY sku_id")
    with CaptureQueriesContext(connection) as captured:
        assert reads.rows([store.pk, 0]) == [(tea.pk, 2), (nuts.pk, 2)]
        assert reads.rows([store.pk, 3]) == []
    assert len(captured) == 2
    if connection.vendor != "postgresql":
        return
    [statement] = reads._statements.values()
    assert statement.statement in _prepared_on_server()
    assert all("EXECUTE" in q["sql"] and "stores_stock" in q["sql"] for q in captured)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError), transaction.atomic():
        reads.rows([store.pk, 0])
    assert reads.rows([store.pk, 0]) == [(tea.pk, 2), (nuts.pk, 2)]
    assert statement.statement in _prepared_on_server()


def test_a_written_out_statement_behind_a_transaction_pooler_runs_as_plain_sql(store, settings):
    from core.prepared import PreparedSQL

    settings.DB_SERVER_PREPARE = False
    tea = make_sku("龙井", stock=2, store=store)
    reads = PreparedSQL("SELECT sku_id FROM stores_stock WHERE store_id = %s")
    assert reads.rows([store.pk]) == [(tea.pk,)]
    [statement] = reads._statements.values()
    assert statement.statement is None


# --- core.prepared.execute: statements the code writes out -----------------------------------
def _stock_read_sql():
    return 'SELECT "on_hand" FROM "stores_stock" WHERE "store_id" = %s AND "sku_id" = %s'


@pytest.mark.postgres
def test_a_written_statement_is_prepared_once_per_connection(store):
    from django.test.utils import CaptureQueriesContext

    from core import prepared

    tea = make_sku("龙井", stock=2, store=store)
    sql = _stock_read_sql()
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        for _n in range(2):
            prepared.execute(cursor, sql, [store.pk, tea.pk])
            assert cursor.fetchall() == [(2,)]
    statement = prepared._statements[sql]
    assert statement.statement in _prepared_on_server()
    assert len(captured) == 2 and all("EXECUTE" in q["sql"] and "stores_stock" in q["sql"] for q in captured)
    # another tool's DEALLOCATE ALL: that run fails, the next one makes it again
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        prepared.execute(cursor, sql, [store.pk, tea.pk])
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [store.pk, tea.pk])
        assert cursor.fetchall() == [(2,)]
    assert statement.statement in _prepared_on_server()


@pytest.mark.postgres
def test_a_broken_constraint_keeps_the_connections_statements(store):
    """A value that breaks a constraint (a pickup code drawn twice) is the values' fault: the
    statements stay prepared, nothing is made again."""
    from django.db import IntegrityError

    from core import prepared

    tea = make_sku("龙井", stock=2, store=store)
    sql = 'UPDATE "stores_stock" SET "on_hand" = %s WHERE "store_id" = %s AND "sku_id" = %s'
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [3, store.pk, tea.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        prepared.execute(cursor, sql, [-5, store.pk, tea.pk])  # CHECK on_hand >= 0
    assert connection._core_prepared[2] == [False]
    assert Stock.objects.get(store=store, sku=tea).on_hand == 3


def test_a_written_statement_runs_as_plain_sql_without_server_prepare(store, settings):
    from django.test.utils import CaptureQueriesContext

    from core import prepared

    settings.DB_SERVER_PREPARE = False  # read on every run: a changed setting is obeyed at once
    tea = make_sku("龙井", stock=2, store=store)
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        prepared.execute(cursor, _stock_read_sql(), [store.pk, tea.pk])
        assert cursor.fetchall() == [(2,)]
    assert "EXECUTE" not in captured[0]["sql"] and "stores_stock" in captured[0]["sql"]


@pytest.mark.postgres
def test_a_statement_postgresql_refuses_runs_as_plain_sql(store):
    from core import prepared

    tea = make_sku("龙井", stock=2, store=store)
    sql = 'SELECT "on_hand" + 0 FROM "stores_stock" WHERE "store_id" = %s AND "sku_id" = %s'
    with connection.cursor() as cursor:
        prepared.execute(cursor, sql, [store.pk, tea.pk])
    statement = prepared._statements[sql]
    statement.prepare_sql = "PREPARE x AS SELECT nonsense FROM nowhere"  # as PostgreSQL refusing it
    connection._core_prepared[1].discard(statement.statement)
    with transaction.atomic(), connection.cursor() as cursor:
        prepared.execute(cursor, sql, [store.pk, tea.pk])  # the refusal rolled back alone
        assert cursor.fetchall() == [(2,)]
        assert Stock.objects.filter(sku=tea).count() == 1
    assert statement.statement is None


# --- hand-written SQL (PreparedSQL) --------------------------------------------------------------
def _stock_rows(statement, params):
    with connection.cursor() as cursor:
        statement.execute(cursor, params)
        return cursor.fetchall()


def test_hand_written_sql_gives_what_the_cursor_gives_with_named_or_positional_values(store):
    from core.prepared import PreparedSQL

    tea = make_sku("龙井", stock=2, store=store)
    nuts = make_sku("坚果", stock=5, store=store)
    named = PreparedSQL("SELECT sku_id, on_hand FROM stores_stock WHERE store_id = %(store)s AND on_hand >= %(least)s"
                        " AND (sku_id = %(sku)s OR on_hand > %(least)s) ORDER BY sku_id")
    positional = PreparedSQL("SELECT sku_id, on_hand FROM stores_stock WHERE store_id = %s AND sku_id = %s"
                             " AND '100%%' LIKE '1%%'")
    for _ in range(7):  # PostgreSQL plans the first five runs for their values, then may keep one plan
        assert _stock_rows(named, {"store": store.pk, "least": 2, "sku": tea.pk}) == [(tea.pk, 2), (nuts.pk, 5)]
        assert _stock_rows(named, {"store": store.pk, "least": 3, "sku": tea.pk, "unused": 1}) == [(nuts.pk, 5)]
        assert _stock_rows(positional, [store.pk, nuts.pk]) == [(nuts.pk, 5)]


@pytest.mark.postgres
def test_hand_written_sql_is_prepared_once_per_connection_and_recorded_with_its_text(store):
    from django.test.utils import CaptureQueriesContext

    from core.prepared import PreparedSQL

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    tea = make_sku("龙井", stock=2, store=store)
    statement = PreparedSQL("SELECT on_hand FROM stores_stock WHERE store_id = %(store)s AND sku_id = %(sku)s")
    with CaptureQueriesContext(connection) as captured:
        assert _stock_rows(statement, {"store": store.pk, "sku": tea.pk}) == [(2,)]
        assert _stock_rows(statement, {"sku": tea.pk, "store": store.pk}) == [(2,)]
    [prepared] = statement._statements.values()
    assert prepared.statement in _prepared_on_server()
    assert len(captured) == 2 and all("EXECUTE" in q["sql"] and "stores_stock" in q["sql"] for q in captured)
    with connection.cursor() as cursor:  # gone from the session: that run fails, the next makes it again
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError), transaction.atomic():
        _stock_rows(statement, {"store": store.pk, "sku": tea.pk})
    assert _stock_rows(statement, {"store": store.pk, "sku": tea.pk}) == [(2,)]


def test_hand_written_sql_runs_plain_behind_a_transaction_pooler(store, settings):
    from django.test.utils import CaptureQueriesContext

    from core.prepared import PreparedSQL

    settings.DB_SERVER_PREPARE = False
    tea = make_sku("龙井", stock=2, store=store)
    statement = PreparedSQL("SELECT on_hand FROM stores_stock WHERE store_id = %(store)s AND sku_id = %(sku)s")
    with CaptureQueriesContext(connection) as captured:
        assert _stock_rows(statement, {"store": store.pk, "sku": tea.pk}) == [(2,)]
    [plain] = statement._statements.values()
    assert plain.statement is None and "EXECUTE" not in captured[0]["sql"]
