from django.urls import path

from .backoffice import aftersales, dashboard, detail, pickups, queue, reconciliation

app_name = "orders_bo"

urlpatterns = [
    path("", queue.queue, name="queue"),
    path("export.csv", queue.export, name="export"),
    path("new/", queue.new_orders, name="new_orders"),
    path("<int:pk>/", detail.detail, name="detail"),
    path("<int:pk>/ticket/", detail.ticket, name="ticket"),
    path("<int:pk>/ship/", detail.ship, name="ship"),
    path("<int:pk>/parcel/", detail.add_parcel, name="add_parcel"),
    path("<int:pk>/route/", detail.add_route, name="add_route"),
    path("<int:pk>/dispatch/", detail.dispatch, name="dispatch"),
    path("<int:pk>/delivered/", detail.delivered, name="delivered"),
    path("<int:pk>/ready/", detail.ready, name="ready"),
    path("<int:pk>/cancel/", detail.cancel, name="cancel"),
    path("<int:pk>/cancel-refund/", detail.cancel_refund, name="cancel_refund"),
    path("<int:pk>/price/", detail.change_price, name="change_price"),
    path("<int:pk>/remark/", detail.remark, name="remark"),
    path("pickups/", pickups.pickups, name="pickups"),
    path("pickups/verify/", pickups.pickup_verify, name="pickup_verify"),
    path("after-sales/", aftersales.after_sale_list, name="after_sales"),
    path("after-sales/<int:pk>/", aftersales.after_sale_detail, name="after_sale"),
    path("after-sales/<int:pk>/approve/", aftersales.approve, name="after_sale_approve"),
    path("after-sales/<int:pk>/reject/", aftersales.reject, name="after_sale_reject"),
    path("after-sales/<int:pk>/receive/", aftersales.receive, name="after_sale_receive"),
    path("after-sales/<int:pk>/retry/", aftersales.retry, name="after_sale_retry"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("reconciliation/", reconciliation.reconciliation, name="reconciliation"),
    path("reconciliation/<str:day>/", reconciliation.reconciliation_day, name="reconciliation_day"),
    path("reconciliation/<str:day>/run/", reconciliation.reconcile_again, name="reconciliation_run"),
]
