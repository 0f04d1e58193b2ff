from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("cart/select/", views.cart_select, name="cart_select"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("buy-now/", views.buy_now, name="buy_now"),
    path("checkout/", views.checkout, name="checkout"),
    path("after-sales/<str:number>/", views.after_sale_detail, name="after_sale"),
    path("after-sales/<str:number>/withdraw/", views.after_sale_withdraw, name="after_sale_withdraw"),
    path("after-sales/<str:number>/return/", views.after_sale_return, name="after_sale_return"),
    path("<uuid:public_id>/", views.order_detail, name="detail"),
    path("<uuid:public_id>/pay/", views.pay, name="pay"),
    path("<uuid:public_id>/result/", views.pay_result, name="pay_result"),
    path("<uuid:public_id>/cancel/", views.order_cancel, name="cancel"),
    path("<uuid:public_id>/confirm/", views.confirm_receipt, name="confirm"),
    path("<uuid:public_id>/reorder/", views.reorder, name="reorder"),
    path("<uuid:public_id>/after-sale/", views.after_sale_request, name="after_sale_request"),
]
