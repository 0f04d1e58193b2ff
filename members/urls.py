from django.urls import path

from . import views

app_name = "members"

urlpatterns = [
    path("me/", views.member_centre, name="me"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("levels/", views.levels, name="levels"),
    path("points/", views.points_history, name="points"),
    path("profile/", views.profile_edit, name="profile"),
    path("addresses/", views.address_list, name="addresses"),
    path("addresses/new/", views.address_create, name="address_create"),
    path("addresses/<int:pk>/edit/", views.address_edit, name="address_edit"),
    path("addresses/<int:pk>/delete/", views.address_delete, name="address_delete"),
    path("addresses/<int:pk>/default/", views.address_set_default, name="address_default"),
]
