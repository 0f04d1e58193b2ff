"""The store back office for orders (/backoffice/orders/, namespace ``orders_bo``).

- queue: the order queue per store with status tabs and their counts (one aggregate query), search,
  filters, pages, CSV export, and the new-order poll behind the banner and chime;
- detail: everything about one order and the actions its state allows, each a small form posting
  to one service; the printable 80 mm ticket;
- pickups: the one verification screen for pickup orders and the points mall's exchanges;
- aftersales: the after-sales queue, approve / reject / confirm return / retry, abnormal refunds;
- dashboard: sales figures and charts from orders.reports.

Guarantees, for every page:
- staff only (core.backoffice.staff_required) and the model permission of what the page does;
- rows come through stores.scope: another store's order, after-sale or store id answers 404, the
  same as a missing one, in the URL or in a tampered POST; HQ sees every store;
- numbers and ids from requests go through core.numbers (no int() of raw input), so bad input is
  a clear message or a 404, never a 500;
- every change is one service call; an OrderError becomes a message and nothing changed.
"""
