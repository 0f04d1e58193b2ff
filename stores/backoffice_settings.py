"""门店设置: a manager edits their own store (opening hours, phone, cover, pickup and delivery, and
its photo gallery: stores.backoffice_photos);
HQ does the same for any store and keeps name, address, location, status and staff in the admin.
A clerk sees the settings read-only. Another store's id answers 404 like any out-of-scope id."""

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from core.backoffice import staff_required

from .forms import StoreHoursFormSet, StorePhotoUploadForm, StoreSettingsForm
from .models import STORE_PHOTO_LIMIT, Store, StorePhoto
from .scope import choose_store, manages_store


@staff_required(perm="stores.view_stock")
def store_settings(request):
    store, stores = choose_store(request.user, request.GET.get("store") or request.POST.get("store"))
    if store is None:
        return render(request, "stores/backoffice/no_store.html", {})
    may_edit = manages_store(request.user, store)
    if request.method == "POST":
        if not may_edit:
            messages.error(request, _("只有店长或总部可以修改门店设置"))
            return redirect(f"{reverse('stores_bo:settings')}?store={store.pk}", permanent=False)
        store = Store.objects.get(pk=store.pk)
        cover = store.cover_image  # as stored: the form may put an upload on the instance
        form = StoreSettingsForm(request.POST, request.FILES, instance=store)
        hours = StoreHoursFormSet(request.POST, instance=store, prefix="hours")
        if form.is_valid() and hours.is_valid():
            try:
                with transaction.atomic():
                    Store.objects.select_for_update().filter(pk=store.pk).first()
                    form.save()
                    hours.save()
            except IntegrityError:
                # a stale form (another tab, the back button) adding a range that now exists
                messages.error(request, _("营业时间已被修改，请查看最新设置后再保存"))
                return redirect(f"{reverse('stores_bo:settings')}?store={store.pk}")
            messages.success(request, _("门店设置已保存：%(store)s") % {"store": store.name})
            return redirect(f"{reverse('stores_bo:settings')}?store={store.pk}")
    else:
        cover = store.cover_image
        form = StoreSettingsForm(instance=store)
        hours = StoreHoursFormSet(instance=store, prefix="hours")
    if not may_edit:
        for each in (form, *hours.forms):
            for field in each.fields.values():
                field.disabled = True
    photos = list(StorePhoto.objects.filter(store_id=store.pk).order_by("position", "pk"))
    return render(request, "stores/backoffice/settings.html", {
        "store": store, "stores": stores, "form": form, "hours": hours, "may_edit": may_edit, "cover": cover,
        "photos": photos, "photo_limit": STORE_PHOTO_LIMIT, "photo_room": STORE_PHOTO_LIMIT - len(photos),
        "upload_form": StorePhotoUploadForm() if may_edit and len(photos) < STORE_PHOTO_LIMIT else None,
    })
