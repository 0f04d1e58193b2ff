"""Querysets compiled by the ORM once per process and run with new values (the cart's and the
checkout page's reads, the shopper's chosen store, the back office's store choice). On those pages the ORM's building and compiling of the queries cost more
than PostgreSQL's running them; the SQL of a query whose shape never changes is the same every
time, only its values differ.

`Prepared(build)`: `build(*values)` returns the queryset for those values. The first call for a
shape (the types of the values, the length of a list) builds it once with marker values, compiles
it, and notes where each marker landed among the statement's parameters; every call then runs
that SQL with the real values put in their places, and makes the model instances (with their
select_related rows) the way the ORM's own iterator does. When a marker cannot be found as is
(a backend that converts the value, e.g. SQLite's datetimes) or lands where it cannot be told
apart, that shape simply runs through the ORM each time: same rows, only slower.

Values must be plain ints, strings, aware datetimes or lists of ints; the query must filter on
them as given (no arithmetic on them inside the queryset).

On PostgreSQL each compiled shape is also a server-side prepared statement, made once per database
connection (PREPARE, the first time the shape runs on that connection) and run with EXECUTE: the
server then parses and plans it once instead of on every run (the checkout's SKU read cost
PostgreSQL 0.6 ms a run to plan, 0.1 ms prepared). The PREPARE goes through the driver's own cursor
(it is plumbing, not one of the page's queries: query counts do not see it), inside a savepoint when
a transaction is open; a shape PostgreSQL refuses to prepare runs as plain SQL from then on. A
failed EXECUTE makes the connection's statements be made again (after DEALLOCATE ALL). When queries
are being recorded (DEBUG, tests), the EXECUTE carries the statement in a comment, so that what is
recorded still says which tables it reads. This needs each Django connection to be one database
session, as it is here (gunicorn and the worker connect to PostgreSQL directly): behind a pooler
that hands a session's statements to another client (PgBouncer in transaction mode, DESIGN.md's way
to scale) set DB_SERVER_PREPARE=0, and the compiled SQL runs as plain statements.

`PreparedSQL(sql)`: the same for a statement written out (%s or %(name)s placeholders): `rows(params)`
gives the cursor's rows, for the few reads on every page where even a compiled queryset's instances
are more than is needed; `execute(cursor, params)` leaves them on a cursor of the caller's (a
page's one statement).
`execute(cursor, sql, params)` does the same for a statement the code writes out itself and runs on
its own cursor (a fixed text per shape, e.g. the payment confirmation's locks and conditional
updates): prepared once per connection on PostgreSQL, plain SQL elsewhere."""

import itertools
import logging
import re
import threading
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connections, router
from django.db.models.query import get_related_populators

logger = logging.getLogger(__name__)

_marker_ids = itertools.count(1)
_statement_ids = itertools.count(1)
_PLACEHOLDER = re.compile(r"%(%|s|\((\w+)\)s)")


def _numbered(sql):
    """Django's SQL (%s or %(name)s placeholders, %% for a percent sign) as PostgreSQL's ($1, $2,
    ...), the names in the order of their numbers (a name used twice has one number; [] for %s
    placeholders), and how many numbers there are."""
    count = itertools.count(1)
    names = {}

    def number(match):
        if match.group(1) == "%":
            return "%"
        name = match.group(2)
        if name is None:
            return f"${next(count)}"
        if name not in names:
            names[name] = next(count)
        return f"${names[name]}"

    numbered = _PLACEHOLDER.sub(number, sql)
    return numbered, list(names), next(count) - 1

_MARKER_BASE = -7_300_000_000
_EPOCH = datetime(1901, 2, 3, tzinfo=UTC)


def _marker(value):
    n = next(_marker_ids)
    if isinstance(value, bool):
        raise TypeError("booleans cannot be told apart in parameters; put them in the queryset")
    if isinstance(value, int):
        return _MARKER_BASE - n
    if isinstance(value, str):
        return f"\x1fprepared-marker-{n}\x1f"
    if isinstance(value, datetime):
        return _EPOCH + timedelta(seconds=n, microseconds=n % 997)
    raise TypeError(f"no marker for {type(value).__name__}")


def _shape(values):
    return tuple((type(v).__name__, len(v)) if isinstance(v, list | tuple) else type(v).__name__ for v in values)


def field_converters(fields, table, connection):
    """[(position, converters, column)] for the model `fields` selected in this order from `table`:
    what the ORM's iterator applies to each value (empty for most columns). Work it out once per
    statement, and convert each row with convert_row."""
    found = []
    for position, field in enumerate(fields):
        column = field.get_col(table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if converters:
            found.append((position, converters, column))
    return found


def convert_row(row, converters, connection):
    """The row's values as the ORM gives them (a list when anything was converted)."""
    if not converters:
        return row
    row = list(row)
    for position, functions, expression in converters:
        value = row[position]
        for function in functions:
            value = function(value, expression, connection)
        row[position] = value
    return row


class _ServerStatement:
    """A statement that PostgreSQL prepares once per database session (see the module's docstring):
    `sql` with Django's %s (or %(name)s) placeholders; `statement` is None when it runs as plain SQL."""

    sql = ""
    statement = None

    def _name(self, sql):
        """Name the statement for `sql`; returns the names of its %(name)s placeholders in the order
        EXECUTE takes their values ([] for %s placeholders)."""
        self.statement = f"core_prepared_{next(_statement_ids)}"
        numbered, names, count = _numbered(sql)
        self.prepare_sql = f"PREPARE {self.statement} AS {numbered}"
        arguments = f" ({', '.join(['%s'] * count)})" if count else ""
        self.execute_sql = f"EXECUTE {self.statement}{arguments}"
        self.recorded_sql = "/* {} */ {}".format(numbered.replace("*/", "* /").replace("%", "%%"),
                                                 self.execute_sql)
        return names

    def _execute(self, cursor, connection, params, plain_params=None):
        """Run on `cursor`: EXECUTE of the prepared statement with `params` (a list, in the order of
        its numbers) when it is prepared (or can be now) on the cursor's session, else the plain SQL
        with `plain_params` (default: `params`)."""
        if self.statement is not None and self._prepared(connection):
            try:
                cursor.execute(self.recorded_sql if connection.queries_logged else self.execute_sql, params)
            except Exception as exc:
                code = getattr(exc, "pgcode", None) or getattr(exc.__cause__, "pgcode", None) or ""
                if not code.startswith("23"):  # not a constraint the values broke (a pickup code drawn twice)
                    connection._core_prepared[2][0] = True  # make them again (after DEALLOCATE ALL)
                raise
        else:
            cursor.execute(self.sql, params if plain_params is None else plain_params)

    def _prepared(self, connection):
        """Whether this shape is prepared on `connection`'s current database session (made now if
        it was not). False: run it as plain SQL."""
        raw = connection.connection
        session = (id(raw), raw.info.backend_pid)
        state = getattr(connection, "_core_prepared", None)
        if state is None or state[0] != session:
            state = connection._core_prepared = (session, set(), [False])
        names, stale = state[1], state[2]
        if self.statement in names and not stale[0]:
            return True
        savepoint = not raw.autocommit
        try:
            with raw.cursor() as cursor:
                if savepoint:
                    cursor.execute("SAVEPOINT core_prepared")
                try:
                    if stale[0]:
                        cursor.execute("DEALLOCATE ALL")
                        names.clear()
                        stale[0] = False
                    cursor.execute(self.prepare_sql)
                except connection.Database.Error:
                    if savepoint:
                        cursor.execute("ROLLBACK TO SAVEPOINT core_prepared")
                        cursor.execute("RELEASE SAVEPOINT core_prepared")
                    raise
                if savepoint:
                    cursor.execute("RELEASE SAVEPOINT core_prepared")
        except connection.Database.Error as exc:
            if getattr(exc, "pgcode", None) == "42P05":  # duplicate_prepared_statement: it is there
                names.add(self.statement)
                return True
            if getattr(exc, "pgcode", None) != "25P02":  # not in_failed_sql_transaction: PREPARE refused
                logger.warning("core.prepared: %s runs as plain SQL (%s)", self.statement, exc)
                self.statement = None
            return False
        names.add(self.statement)
        return True


class _Compiled(_ServerStatement):
    """One compiled shape: its SQL and parameters, and how its rows become instances (the column
    names, the converters and the related populators), worked out once: the ORM's own iterator
    works them out again on every run."""

    def __init__(self, sql, params, slots, compiler, db):
        self.sql, self.params, self.slots, self.db = sql, params, slots, db
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        self.start, self.end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        self.names = [column[0].target.attname for column in select[self.start:self.end]]
        self.populators = get_related_populators(klass_info, select, db)
        self.annotations = list((compiler.annotation_col_map or {}).items())
        fields = [column[0] for column in select[:compiler.col_count]]
        # [(position, converters, expression)]: what the ORM's results_iter applies to each row
        self.converters = [(position, convs, expression)
                           for position, (convs, expression) in compiler.get_converters(fields).items()]
        self.statement = None  # PostgreSQL: the prepared statement's name, its PREPARE and EXECUTE
        if compiler.connection.vendor == "postgresql" and getattr(settings, "DB_SERVER_PREPARE", True):
            self._name(sql)

    def run(self, flat_values):
        params = list(self.params)
        for value, places in zip(flat_values, self.slots, strict=True):
            for place in places:
                params[place] = value
        connection = connections[self.db]
        with connection.cursor() as cursor:
            self._execute(cursor, connection, params)
            rows = cursor.fetchall()
        model, db, names, start, end = self.model, self.db, self.names, self.start, self.end
        populators, annotations, converters = self.populators, self.annotations, self.converters
        objects = []
        for row in rows:
            row = convert_row(row, converters, connection)
            obj = model.from_db(db, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations:
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


class _Statement(_ServerStatement):
    """One statement written out (Django's %s or %(name)s placeholders) run with new values; on
    PostgreSQL (DB_SERVER_PREPARE on) a server-side prepared statement per database session."""

    names = ()

    def __init__(self, sql, vendor):
        self.sql = sql
        if vendor == "postgresql" and getattr(settings, "DB_SERVER_PREPARE", True):
            self.names = self._name(sql)

    def run(self, cursor, connection, params):
        """Run it on `cursor` with `params` (a sequence, or a dict for %(name)s placeholders)."""
        if self.names:
            self._execute(cursor, connection, [params[name] for name in self.names], params)
        else:
            self._execute(cursor, connection, params)

    def fetch(self, connection, params):
        """The rows of this statement run with `params` on `connection`."""
        with connection.cursor() as cursor:
            self.run(cursor, connection, params)
            return cursor.fetchall()


_statements = {}
_statements_lock = threading.Lock()
STATEMENTS_MAX = 200  # distinct texts kept per process: they are written in the code, never made of values


def execute(cursor, sql, params):
    """Run `sql`, a statement written out in the code (Django's %s placeholders; its text the same
    on every run, only the values differ), with `params` on `cursor` (a cursor of a Django
    connection); read its rows from the cursor as usual. On PostgreSQL it is prepared on the server
    once per database session and run with EXECUTE, as Prepared's shapes are (the parse and plan
    of a statement on a hot path cost the server more than running it); elsewhere, with
    DB_SERVER_PREPARE off, or when PostgreSQL refuses to prepare it, it runs as plain SQL."""
    connection = cursor.db
    if connection.vendor != "postgresql" or not getattr(settings, "DB_SERVER_PREPARE", True):
        cursor.execute(sql, params)
        return
    statement = _statements.get(sql)
    if statement is None:
        with _statements_lock:
            statement = _statements.get(sql)
            if statement is None and len(_statements) < STATEMENTS_MAX:
                statement = _statements[sql] = _Statement(sql, connection.vendor)
        if statement is None:
            cursor.execute(sql, params)
            return
    statement.run(cursor, connection, params)


class Prepared:
    def __init__(self, build):
        self.build = build
        self._model = None
        self._compiled = {}
        self._lock = threading.Lock()

    def _compile(self, values, db):
        markers, flat_markers = [], []
        for value in values:
            if isinstance(value, list | tuple):
                group = [_marker(v) for v in value]
                markers.append(group)
                flat_markers.extend(group)
            else:
                one = _marker(value)
                markers.append(one)
                flat_markers.append(one)
        queryset = self.build(*markers)
        compiler = queryset.query.get_compiler(using=db)
        sql, params = compiler.as_sql()
        params = tuple(params)
        slots = []
        for marker in flat_markers:
            places = [i for i, p in enumerate(params) if type(p) is type(marker) and p == marker]
            if not places:
                return None  # converted on the way (or filtered away): this shape runs through the ORM
            slots.append(places)
        if len({place for places in slots for place in places}) != sum(len(places) for places in slots):
            return None
        if compiler.has_composite_fields([column[0] for column in compiler.select[:compiler.col_count]]):
            return None  # rows the ORM reshapes (composite primary keys): through the ORM
        return _Compiled(sql, params, slots, compiler, db)

    def __call__(self, *values):
        """The list of model instances the queryset `build(*values)` would give."""
        if any(isinstance(v, list | tuple) and not v for v in values):
            return []  # IN () matches nothing (and the ORM will not compile it)
        model = self._model
        if model is None:
            model = self._model = self.build(*values).model
        db = router.db_for_read(model)
        key = (db, _shape(values))
        compiled = self._compiled.get(key, False)
        if compiled is False:
            with self._lock:
                compiled = self._compiled.get(key, False)
                if compiled is False:
                    compiled = self._compiled[key] = self._compile(values, db)
        if compiled is None:
            return list(self.build(*values).using(db))
        flat = [v for value in values for v in (value if isinstance(value, list | tuple) else [value])]
        return compiled.run(flat)


class PreparedSQL:
    """A statement written out (Django's %s or %(name)s placeholders) for reads the ORM would only
    slow down (the signed-in user's row, the cart's ticked lines, the store list's page, the
    product picker): `rows(params)` runs it on `using` and gives the cursor's rows;
    `execute(cursor, params)` runs it on that Django cursor as `cursor.execute(sql, params)` would,
    leaving the rows on the cursor. On PostgreSQL it is a prepared statement of the server, made
    once per database session as Prepared's shapes are (same fallbacks: plain SQL with
    DB_SERVER_PREPARE off, after a refused PREPARE, on other databases); the server then parses it
    once instead of on every run, and may keep a plan for it when its plans do not depend on the
    values (PostgreSQL's plan_cache_mode auto). PostgreSQL infers each parameter's type from where
    it stands, once: cast a parameter whose place does not tell (CAST(%s AS DOUBLE PRECISION)).
    Values left out of a dict's SQL are ignored, as psycopg ignores them."""

    def __init__(self, sql):
        self.sql = sql
        self._statements = {}  # database alias -> _Statement
        self._lock = threading.Lock()

    def _statement(self, connection):
        statement = self._statements.get(connection.alias)
        if statement is None:
            with self._lock:
                statement = self._statements.get(connection.alias)
                if statement is None:
                    statement = self._statements[connection.alias] = _Statement(self.sql, connection.vendor)
        return statement

    def rows(self, params, *, using="default"):
        connection = connections[using]
        return self._statement(connection).fetch(connection, params if isinstance(params, dict) else list(params))

    def execute(self, cursor, params=()):
        connection = cursor.db
        self._statement(connection).run(cursor, connection, params)
