from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("dev/notify/", views.dev_notify, name="dev_notify"),
    path("dev/<str:out_trade_no>/", views.dev_pay, name="dev_pay"),
]
