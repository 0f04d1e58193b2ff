from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.images import ImageField
from core.prepared import PreparedSQL

from .auth.phones import format_phone, mask_phone
from .validators import validate_mainland_mobile

MAX_AVATAR_BYTES = 2 * 1024 * 1024


class UserManager(DjangoUserManager):
    """Django's user manager, with `get(pk=<int>)` (what loads the signed-in user on every request,
    django.contrib.auth.backends.ModelBackend.get_user) run as a statement built once per process:
    building it with the ORM cost more than running it. Any other lookup is the ORM's."""

    def get(self, *args, **kwargs):
        pk = kwargs.get("pk")
        if args or len(kwargs) != 1 or type(pk) is not int or self._db is not None:
            return super().get(*args, **kwargs)
        from django.db import router

        alias = router.db_for_read(self.model)
        names, statement = _user_by_pk_statement(self.model)
        rows = statement.rows([pk], using=alias)
        row = rows[0] if rows else None
        if row is None:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        return self.model.from_db(alias, names, row)

    # migrations see Django's manager (this one only reads faster, which no migration needs), and
    # the migration autodetector finds the two equal
    def deconstruct(self):
        _as_manager, _path, qs_class, args, kwargs = super().deconstruct()
        return False, "django.contrib.auth.models.UserManager", qs_class, args, kwargs

    def __eq__(self, other):
        return isinstance(other, DjangoUserManager) and self._constructor_args == other._constructor_args

    __hash__ = DjangoUserManager.__hash__


_user_statements = {}


def _user_by_pk_statement(model):
    statement = _user_statements.get(model)
    if statement is None:
        fields = model._meta.concrete_fields
        names = [field.attname for field in fields]
        columns = ", ".join(f'"{field.column}"' for field in fields)
        sql = f'SELECT {columns} FROM "{model._meta.db_table}" WHERE "{model._meta.pk.column}" = %s'  # noqa: S608
        # on PostgreSQL a server-side prepared statement (core.prepared): parsed and planned once
        # per connection instead of on every request
        statement = _user_statements[model] = (names, PreparedSQL(sql))
    return statement


class User(AbstractUser):
    """Every person who logs in: shoppers, promoters and staff.

    Shoppers sign in by phone + SMS code or by WeChat, so `phone` is optional (a WeChat user binds
    it later) but unique when present, stored in E.164 (+8613800138000). Staff keep username and
    password.
    """

    phone = models.CharField(_("手机号"), max_length=20, unique=True, null=True, blank=True)
    phone_verified = models.BooleanField(_("手机号已验证"), default=False)
    nickname = models.CharField(_("昵称"), max_length=64, blank=True)
    avatar = ImageField(_("头像"), upload_to="avatars/%Y/%m/", blank=True, max_bytes=MAX_AVATAR_BYTES)

    objects = UserManager()

    class Meta(AbstractUser.Meta):
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        swappable = "AUTH_USER_MODEL"

    def __str__(self):
        return self.nickname or format_phone(self.phone) or self.username

    @property
    def display_name(self):
        return self.nickname or self.masked_phone or self.username

    @property
    def masked_phone(self):
        return mask_phone(self.phone)

    @property
    def is_located(self):
        return self.latitude is not None and self.longitude is not None if self.phone else ""

    @property
    def staff_label(self):
        """How store staff see a shopper: nickname and masked phone, enough to match the person at
        the counter without handing out a phone list."""
        return " · ".join(p for p in (self.nickname, self.masked_phone) if p) or self.username


class MemberLevel(models.Model):
    """A membership tier (普通 / 银卡 / 金卡 / 钻石 by default). Staff may edit or add tiers.

    A member reaches a level when their growth value is at least `growth_threshold`. The lowest
    rank is the level every new member starts at.
    """

    name = models.CharField(_("等级名称"), max_length=32, unique=True)
    rank = models.PositiveSmallIntegerField(_("等级序号"), unique=True, help_text=_("数字越大等级越高"))
    growth_threshold = models.PositiveIntegerField(_("成长值门槛"), default=0)
    discount_percent = models.DecimalField(
        _("会员折扣(%)"),
        max_digits=5,
        decimal_places=2,
        default=100,
        help_text=_("参与会员价商品按此百分比付款，例如 95 表示 95 折"),
    )
    points_multiplier = models.DecimalField(_("积分倍率"), max_digits=4, decimal_places=2, default=1)
    flash_sale_early_minutes = models.PositiveIntegerField(
        _("秒杀提前购(分钟)"), default=0, help_text=_("0 表示不能提前进入秒杀")
    )
    free_delivery = models.BooleanField(
        _("包邮"), default=False, help_text=_("勾选后该等级会员快递和同城配送免运费")
    )
    birthday_points = models.PositiveIntegerField(
        _("生日礼积分"), default=0, help_text=_("会员生日当天赠送的积分，每年一次；0 表示不送")
    )
    description = models.CharField(_("权益说明"), max_length=200, blank=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("会员等级")
        verbose_name_plural = _("会员等级")
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_percent__gt=0) & Q(discount_percent__lte=100),
                name="memberlevel_discount_range",
            ),
            models.CheckConstraint(
                condition=Q(points_multiplier__gte=0), name="memberlevel_multiplier_gte_0"
            ),
        ]

    def __str__(self):
        return self.name


class Member(models.Model):
    """The shopper side of a User: profile, level, growth value and the points balance.

    `points_balance` always equals the sum of this member's PointsEntry rows; it only changes
    through members.services, by conditional UPDATE, in the transaction that writes the entry.
    It is negative only after a refund's claw-back took back points already spent (no CHECK on
    the row: every other debit is conditional on `points_balance >= amount`, and the ledger's
    `points_entry_only_clawback_goes_negative` refuses any other entry that would end below zero).
    """

    class Gender(models.TextChoices):
        UNKNOWN = "unknown", _("未知")
        MALE = "male", _("男")
        FEMALE = "female", _("女")

    class Source(models.TextChoices):
        PHONE = "phone", _("手机号注册")
        WECHAT = "wechat", _("微信授权")
        REFERRAL = "referral", _("推荐链接")
        ADMIN = "admin", _("后台创建")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="member", verbose_name=_("用户")
    )
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    source = models.CharField(_("注册来源"), max_length=16, choices=Source.choices, default=Source.PHONE)
    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referred_members",
        verbose_name=_("推荐人"),
    )
    level = models.ForeignKey(
        MemberLevel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("等级"),
    )
    growth = models.PositiveIntegerField(_("成长值"), default=0)
    points_balance = models.IntegerField(
        _("积分余额"), default=0, help_text=_("为负表示订单退款扣回的积分已被使用，获得新积分后抵消")
    )
    sign_in_streak = models.PositiveIntegerField(_("连续签到天数"), default=0)
    last_sign_in_on = models.DateField(_("最近签到日"), null=True, blank=True)
    expiry_notified_for = models.DateTimeField(_("已提醒的积分过期时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("注册时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("会员")
        verbose_name_plural = _("会员")

    def __str__(self):
        return str(self.user)


class PointsEntry(models.Model):
    """One line of the append-only points ledger. Never updated, never deleted.

    `reference` makes earning idempotent: one entry per (member, kind, reference) when non-empty,
    e.g. one purchase earn per order, one sign-in per local day, one claw-back per refund.
    """

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("购物获得")
        SIGN_IN = "sign_in", _("每日签到")
        REVIEW = "review", _("商品评价")
        SHARE = "share", _("分享")
        EXCHANGE = "exchange", _("积分兑换")
        CHECKOUT = "checkout", _("下单抵扣")
        EXPIRE = "expire", _("积分过期")
        ADJUST = "adjust", _("后台调整")
        REFUND = "refund", _("退款退回")
        CLAWBACK = "clawback", _("退款扣回积分")
        BIRTHDAY = "birthday", _("生日礼")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="points_entries", verbose_name=_("会员")
    )
    delta = models.IntegerField(_("变动"))
    balance_after = models.IntegerField(_("变动后余额"))
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    reference = models.CharField(_("业务单号"), max_length=64, blank=True)
    reason = models.CharField(_("说明"), max_length=200, blank=True)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("积分明细")
        verbose_name_plural = _("积分明细")
        indexes = [models.Index(fields=["member", "-id"], name="points_member_recent")]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "reference"],
                condition=~Q(reference=""),
                name="points_entry_once_per_reference",
            ),
            models.CheckConstraint(condition=~Q(delta=0), name="points_entry_delta_not_zero"),
            # Only a claw-back may take the balance below zero; a credit may still end below zero
            # (it offsets an earlier claw-back); any other debit must leave it at zero or more.
            models.CheckConstraint(
                condition=Q(balance_after__gte=0) | Q(delta__gt=0) | Q(kind="clawback"),
                name="points_entry_only_clawback_goes_negative",
            ),
        ]

    def __str__(self):
        return f"{self.member_id} {self.kind} {self.delta:+d}"


class GrowthEntry(models.Model):
    """Append-only growth-value ledger: one entry per (member, reference), so an order counts once
    and a refund takes back once (a negative entry whose reference is the refund's)."""

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="growth_entries", verbose_name=_("会员")
    )
    delta = models.IntegerField(_("变动"))
    balance_after = models.PositiveIntegerField(_("变动后成长值"))
    reference = models.CharField(_("业务单号"), max_length=64)
    reason = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("成长值明细")
        verbose_name_plural = _("成长值明细")
        constraints = [
            models.UniqueConstraint(fields=["member", "reference"], name="growth_entry_once_per_reference"),
        ]

    def __str__(self):
        return f"{self.member_id} {self.delta:+d}"


class LevelChange(models.Model):
    """Every level change, automatic (upgrade by growth) or by staff (with a reason)."""

    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="level_changes", verbose_name=_("会员")
    )
    from_level = models.ForeignKey(
        MemberLevel,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("原等级"),
    )
    to_level = models.ForeignKey(
        MemberLevel, on_delete=models.PROTECT, related_name="+", verbose_name=_("新等级")
    )
    reason = models.CharField(_("原因"), max_length=200)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("等级变更")
        verbose_name_plural = _("等级变更")

    def __str__(self):
        return f"{self.member_id} -> {self.to_level_id}"


class Address(models.Model):
    """A shipping address. A user has several and at most one default (enforced by the database).

    `latitude`/`longitude` (WGS-84, optional, both or neither) are where the shopper said the
    address is ("使用当前位置" on the form): same-city delivery measures the distance to the store
    from them.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses", verbose_name=_("用户")
    )
    receiver = models.CharField(_("收货人"), max_length=32)
    phone = models.CharField(_("手机号"), max_length=11, validators=[validate_mainland_mobile])
    province = models.CharField(_("省份"), max_length=32)
    city = models.CharField(_("城市"), max_length=32)
    district = models.CharField(_("区县"), max_length=32)
    detail = models.CharField(_("详细地址"), max_length=200)
    latitude = models.FloatField(
        _("纬度"), null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        _("经度"), null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    is_default = models.BooleanField(_("默认地址"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["-is_default", "-updated_at", "-id"]
        verbose_name = _("收货地址")
        verbose_name_plural = _("收货地址")
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(is_default=True), name="address_one_default_per_user"
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__isnull=False, longitude__isnull=False),
                name="address_coordinates_both_or_neither",
                violation_error_message=_("位置信息不完整，请重新定位"),
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | Q(latitude__gte=-90, latitude__lte=90),
                name="address_latitude_range",
                violation_error_message=_("位置信息超出范围，请重新定位"),
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | Q(longitude__gte=-180, longitude__lte=180),
                name="address_longitude_range",
                violation_error_message=_("位置信息超出范围，请重新定位"),
            ),
        ]

    def __str__(self):
        return f"{self.receiver} {self.full_address}"

    @property
    def full_address(self):
        """Province, city, district, street; a level that repeats the one above is said once
        (上海市/上海市/徐汇区 -> 上海市徐汇区, 河南省/济源市/济源市 -> 河南省济源市)."""
        parts = [self.province, self.city, self.district]
        parts = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
        return "".join(parts) + self.detail

    @property
    def masked_phone(self):
        return mask_phone(self.phone)

    @property
    def is_located(self):
        return self.latitude is not None and self.longitude is not None


class WechatOpenId(models.Model):
    """A member's openid under one WeChat appid (our official account), learnt by a silent snsapi_base
    authorisation (members.auth.wechat_openid): what WeChat Pay's JSAPI needs to know who pays.
    One per (user, appid); the openid itself is not unique (one WeChat may pay for two of our accounts)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wechat_openids", verbose_name=_("用户")
    )
    appid = models.CharField(_("公众号 AppID"), max_length=32)
    openid = models.CharField("openid", max_length=128)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("微信 openid")
        verbose_name_plural = _("微信 openid")
        constraints = [models.UniqueConstraint(fields=["user", "appid"], name="wechatopenid_one_per_user_app")]

    def __str__(self):
        return f"{self.appid}:{self.openid}"


class LegalDocument(models.Model):
    """用户协议 or 隐私政策, as HQ publishes it in the admin: each edit that shoppers must agree to again
    is a new row with a higher version; the newest row of a kind is the one shown and agreed to."""

    class Kind(models.TextChoices):
        TERMS = "terms", _("用户协议")
        PRIVACY = "privacy", _("隐私政策")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=100)
    body = models.TextField(_("正文"), help_text=_("纯文本，空行分段"))
    published_at = models.DateTimeField(_("发布时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("协议文本")
        verbose_name_plural = _("协议文本")
        ordering = ["kind", "-version"]
        constraints = [models.UniqueConstraint(fields=["kind", "version"], name="legaldocument_kind_version")]

    def __str__(self):
        return f"{self.title} v{self.version}"


class Consent(models.Model):
    """A shopper agreed to one version of a legal document, when and through which login path
    (members.auth.consent): kept for the record that China's PIPL expects, never edited."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents", verbose_name=_("用户")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=LegalDocument.Kind.choices)
    version = models.PositiveIntegerField(_("版本"))
    agreed_at = models.DateTimeField(_("同意时间"))
    channel = models.CharField(_("途径"), max_length=16)  # "phone" or "wechat"
    ip = models.GenericIPAddressField(_("IP"), null=True, blank=True)

    class Meta:
        verbose_name = _("协议同意记录")
        verbose_name_plural = _("协议同意记录")
        indexes = [models.Index(fields=["user", "kind", "-version"], name="consent_user_kind")]

    def __str__(self):
        return f"{self.user_id} {self.kind} v{self.version}"
