from django.urls import path

from . import backoffice, backoffice_photos, backoffice_settings
from . import backoffice_documents as docs

app_name = "stores_bo"

urlpatterns = [
    path("", backoffice.stock_page, name="stock"),
    path("settings/", backoffice_settings.store_settings, name="settings"),
    path("settings/photos/upload/", backoffice_photos.photo_upload, name="photo_upload"),
    path("settings/photos/caption/", backoffice_photos.photo_caption, name="photo_caption"),
    path("settings/photos/move/", backoffice_photos.photo_move, name="photo_move"),
    path("settings/photos/cover/", backoffice_photos.photo_cover, name="photo_cover"),
    path("settings/photos/delete/", backoffice_photos.photo_delete, name="photo_delete"),
    path("stock/export.csv", backoffice.stock_export, name="stock_export"),
    path("stock/<int:pk>/", backoffice.stock_history, name="stock_history"),
    path("stock/<int:pk>/adjust/", backoffice.stock_adjust, name="stock_adjust"),
    path("stock/<int:pk>/threshold/", backoffice.stock_threshold, name="stock_threshold"),
    path("transfers/", backoffice.transfer_list, name="transfers"),
    path("transfers/new/", backoffice.transfer_create, name="transfer_create"),
    path("transfers/<int:pk>/", backoffice.transfer_detail, name="transfer_detail"),
    path("transfers/<int:pk>/dispatch/", backoffice.transfer_dispatch, name="transfer_dispatch"),
    path("transfers/<int:pk>/receive/", backoffice.transfer_receive, name="transfer_receive"),
    path("transfers/<int:pk>/cancel/", backoffice.transfer_cancel, name="transfer_cancel"),
    path("transfers/<int:pk>/resolve/", backoffice.transfer_resolve, name="transfer_resolve"),
    path("alerts/", backoffice.alert_list, name="alerts"),
    path("alerts/<int:pk>/", backoffice.alert_detail, name="alert_detail"),
    path("notifications/", backoffice.notification_list, name="notifications"),
    path("notifications/read/", backoffice.notifications_read, name="notifications_read"),
    path("picker/", docs.picker, name="picker"),
    path("documents/", docs.document_list, name="documents"),
    path("documents/new/<slug:kind>/", docs.document_create, name="document_create"),
    path("documents/<int:pk>/", docs.document_detail, name="document"),
    path("documents/<int:pk>/lines/", docs.document_line, name="document_line"),
    path("documents/<int:pk>/lines/<int:line_id>/delete/", docs.document_line_delete, name="document_line_delete"),
    path("documents/<int:pk>/import/", docs.document_import, name="document_import"),
    path("documents/<int:pk>/post/", docs.document_post, name="document_post"),
    path("documents/<int:pk>/cancel/", docs.document_cancel, name="document_cancel"),
    path("documents/<int:pk>/reverse/", docs.document_reverse, name="document_reverse"),
]
