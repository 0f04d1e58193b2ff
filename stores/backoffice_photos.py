"""门店相册 on the store-settings page: upload, caption, move, set as cover, delete.

Each action is a POST that answers with a redirect back to the settings page and a message
(errors too: the page is one page with several forms). Ids come from the form body, read by
core.numbers. A photo of a store outside the user's scope is 404, like a missing one; a store
the user may see but not change (a clerk) is 403. A photo already gone (deleted in another tab,
a delete sent twice, the back button and resubmit) sends the user back to their store's album
with a message, as every form also names its store.
"""

from functools import wraps

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
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


class _PhotoGone(ObjectDoesNotExist):
    def __init__(self, store_id):
        super().__init__(store_id)
        self.store_id = store_id


def _photo(request):
    """The photo named by the form, in the user's stores, for a user who manages its store (else
    403). A photo that is not there: _PhotoGone when the form's store is one of the user's, else 404."""
    photo_id = id_or_none(request.POST.get("photo"))
    if photo_id is None:
        raise Http404("no such photo")
    try:
        photo = get_scoped_object_or_404(StorePhoto.objects.select_related("store"), request.user, pk=photo_id)
    except Http404:
        raw = request.POST.get("store")
        if raw in (None, "") or StorePhoto.objects.filter(pk=photo_id).exists():
            raise  # no store named, or another store's photo: as missing as any out-of-scope id
        store, _stores = choose_store(request.user, raw)
        if not manages_store(request.user, store):
            raise PermissionDenied from None
        raise _PhotoGone(store.pk) from None
    if not manages_store(request.user, photo.store_id):
        raise PermissionDenied
    return photo


def _photo_action(gone_level, gone_message):
    """A staff-only POST on one photo; a photo already gone answers with the album and a message
    (at `gone_level`) instead of a 404 page."""
    def decorate(view):
        @staff_required(perm="stores.view_stock")
        @require_POST
        @wraps(view)
        def wrapped(request):
            try:
                return view(request)
            except _PhotoGone as gone:
                messages.add_message(request, gone_level, gone_message())
                return _back(gone.store_id)
        return wrapped
    return decorate


def _photo_changed_meanwhile():
    return _("这张照片已不在相册中，请看刷新后的相册")


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


@_photo_action(messages.ERROR, _photo_changed_meanwhile)
def photo_caption(request):
    photo = _photo(request)
    services.set_caption(photo, request.POST.get("caption", ""), by=request.user)
    messages.success(request, _("照片说明已保存"))
    return _back(photo.store_id)


@_photo_action(messages.ERROR, _photo_changed_meanwhile)
def photo_move(request):
    photo = _photo(request)
    to = int_or_none(request.POST.get("to"), minimum=0, maximum=STORE_PHOTO_LIMIT * 10)
    if to is None:
        messages.error(request, _("位置无效，请刷新后重试"))
        return _back(photo.store_id)
    services.move_photo(photo, to, by=request.user)
    messages.success(request, _("照片顺序已调整"))
    return _back(photo.store_id)


@_photo_action(messages.ERROR, _photo_changed_meanwhile)
def photo_cover(request):
    photo = _photo(request)
    services.set_cover(photo, by=request.user)
    messages.success(request, _("已设为门店封面"))
    return _back(photo.store_id)


@_photo_action(messages.INFO, lambda: _("这张照片已经删除了"))
def photo_delete(request):
    photo = _photo(request)
    services.delete_photo(photo, by=request.user)
    messages.success(request, _("照片已删除"))
    return _back(photo.store_id)

