from django.urls import path

from . import views

app_name = "stores"

urlpatterns = [
    path("", views.store_list, name="list"),
    path("<int:pk>/", views.store_detail, name="detail"),
    path("<int:pk>/choose/", views.choose_store, name="choose"),
    path("wechat/jssdk-config/", views.wechat_jssdk_config, name="wechat_jssdk_config"),
]
