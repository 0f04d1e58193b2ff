"""Give every reference that reserved stock under the old pool API its reservation row, read from
the stock ledger alone: per (stock row, reference), quantity = units reserved, sold = units sold,
released = units released under that same reference. A reference whose movements do not add up
(the old API let one reference release or sell what another had reserved) gets no row; such a
stock row then shows in `manage.py check_stock` (reserved != sum of held) for a person to look at.
"""

from django.db import migrations


def backfill(apps, schema_editor):
    StockMovement = apps.get_model("stores", "StockMovement")
    StockReservation = apps.get_model("stores", "StockReservation")
    totals = {}
    movements = (
        StockMovement.objects.filter(reason__in=["reserve", "release", "sale"])
        .exclude(reference="")
        .values_list("stock_id", "reference", "reason", "reserved_delta")
        .order_by("id")
    )
    for stock_id, reference, reason, delta in movements.iterator():
        counts = totals.setdefault((stock_id, reference), {"reserve": 0, "sale": 0, "release": 0})
        counts[reason] += delta if reason == "reserve" else -delta
    rows = []
    for (stock_id, reference), counts in sorted(totals.items()):
        quantity, sold, released = counts["reserve"], counts["sale"], counts["release"]
        if quantity <= 0 or sold < 0 or released < 0 or sold + released > quantity:
            continue
        if sold + released < quantity:
            state = "held"
        elif released == 0:
            state = "sold"
        elif sold == 0:
            state = "released"
        else:
            state = "closed"
        rows.append(StockReservation(stock_id=stock_id, reference=reference, quantity=quantity, sold=sold,
                                     released=released, state=state))
    StockReservation.objects.bulk_create(rows, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("stores", "0004_reservations_and_store_delivery_settings")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
