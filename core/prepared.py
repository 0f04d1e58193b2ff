"""Querysets compiled by the ORM once per process and run with new values (the cart's and the
checkout page's reads, the back office's store choice). On those pages the ORM's building and compiling of the queries cost more
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
them as given (no arithmetic on them inside the queryset)."""

import copy
import itertools
import threading
from datetime import UTC, datetime, timedelta

from django.db import connections, router
from django.db.models.query import get_related_populators

_marker_ids = itertools.count(1)
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


class _Compiled:
    def __init__(self, sql, params, slots, compiler, db):
        self.sql, self.params, self.slots, self.compiler, self.db = sql, params, slots, compiler, db

    def run(self, flat_values):
        params = list(self.params)
        for value, places in zip(flat_values, self.slots, strict=True):
            for place in places:
                params[place] = value
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        compiler = copy.copy(self.compiler)
        compiler.connection = connection  # this thread's (converters are given it)
        select, klass_info, annotations = compiler.select, compiler.klass_info, compiler.annotation_col_map
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, select, self.db)
        objects = []
        for row in compiler.results_iter([rows]):
            obj = model.from_db(self.db, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in (annotations or {}).items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


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
