from django.urls import path

from . import backoffice

app_name = "members_bo"

urlpatterns = [
    path("", backoffice.member_list, name="list"),
    path("export.csv", backoffice.export_csv, name="export"),
    path("<int:pk>/", backoffice.member_detail, name="detail"),
    path("<int:pk>/adjust-points/", backoffice.adjust_points, name="adjust_points"),
    path("<int:pk>/change-level/", backoffice.change_level, name="change_level"),
]
