"""门店相册 on the store-settings page: upload, caption, move, set as cover, delete.

Each action is a POST that answers with a redirect back to the settings page and a message
(errors too: the page is one page with several forms). Ids come from the form body, read by
core.numbers. A photo of a store outside the user's scope is 404, like a missing one; a store
the user may see but not change (a clerk) is 403.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.backoffice import staff_required
from core.numbers import id_or_none, int_or_none

from . import photos as services
from .forms import StorePhotoUploadForm
from .models import STORE_PHOTO_LIMIT, StorePhoto
from .scope import choose_store, get_scoped_object_or_404, manages_store


def _back(store_id):
    return redirect(f"{reverse('stores_bo:settings')}?store={store_id}#store-photos")


def _photo(request):
    """The photo named by the form, in the user's stores (else 404), for a user who manages its store (else 403)."""
    photo_id = id_or_none(request.POST.get("photo"))
    if photo_id is None:
        raise Http404("no such photo")
    photo = get_scoped_object_or_404(StorePhoto.objects.select_related("store"), request.user, pk=photo_id)
    if not manages_store(request.user, photo.store_id):
        raise PermissionDenied
    return photo


@staff_required(perm="stores.view_stock")
@require_POST
def photo_upload(request):
    raw = request.POST.get("store")
    if raw in (None, ""):
        raise Http404("no store")
    store, _stores = choose_store(request.user, raw)
    if not manages_store(request.user, store):
        raise PermissionDenied
    form = StorePhotoUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _back(store.pk)
    try:
        added, skipped = services.add_store_photos(
            store, form.cleaned_data["photos"], by=request.user, caption=form.cleaned_data["caption"]
        )
    except services.PhotoError as exc:
        messages.error(request, str(exc))
        return _back(store.pk)
    if added:
        messages.success(
            request, ngettext("已上传 %(n)s 张照片", "已上传 %(n)s 张照片", len(added)) % {"n": len(added)}
        )
    if skipped:
        messages.info(
            request,
            ngettext("%(n)s 张照片已在相册中，未重复添加", "%(n)s 张照片已在相册中，未重复添加", skipped)
            % {"n": skipped},
        )
    return _back(store.pk)


@staff_required(perm="stores.view_stock")
@require_POST
def photo_caption(request):
    photo = _photo(request)
    services.set_caption(photo, request.POST.get("caption", ""), by=request.user)
    messages.success(request, _("照片说明已保存"))
    return _back(photo.store_id)


@staff_required(perm="stores.view_stock")
@require_POST
def photo_move(request):
    photo = _photo(request)
    to = int_or_none(request.POST.get("to"), minimum=0, maximum=STORE_PHOTO_LIMIT * 10)
    if to is None:
        messages.error(request, _("位置无效，请刷新后重试"))
        return _back(photo.store_id)
    services.move_photo(photo, to, by=request.user)
    messages.success(request, _("照片顺序已调整"))
    return _back(photo.store_id)


@staff_required(perm="stores.view_stock")
@require_POST
def photo_cover(request):
    photo = _photo(request)
    services.set_cover(photo, by=request.user)
    messages.success(request, _("已设为门店封面"))
    return _back(photo.store_id)


@staff_required(perm="stores.view_stock")
@require_POST
def photo_delete(request):
    photo = _photo(request)
    services.delete_photo(photo, by=request.user)
    messages.success(request, _("照片已删除"))
    return _back(photo.store_id)
