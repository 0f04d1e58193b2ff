from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("categories/", views.categories, name="categories"),
    path("categories/<int:pk>/", views.category_products, name="category"),
    path("search/", views.search, name="search"),
    path("search/recent/clear/", views.clear_recent_searches, name="clear_recent_searches"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("products/<int:pk>/stores/", views.product_stores, name="product_stores"),
]
