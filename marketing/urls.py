app_name = "marketing"

urlpatterns = []
