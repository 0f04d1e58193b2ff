# A refund's claw-back may take the points balance below zero: the balance row loses its CHECK
# (every other debit stays conditional on points_balance >= amount) and the ledger's CHECK now
# lets only a claw-back end below zero.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0003_default_levels'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='member',
            name='member_points_balance_gte_0',
        ),
        migrations.RemoveConstraint(
            model_name='pointsentry',
            name='points_entry_balance_after_gte_0',
        ),
        migrations.AlterField(
            model_name='member',
            name='points_balance',
            field=models.IntegerField(default=0, help_text='为负表示订单退款扣回的积分已被使用，获得新积分后抵消', verbose_name='积分余额'),
        ),
        migrations.AlterField(
            model_name='pointsentry',
            name='kind',
            field=models.CharField(choices=[('purchase', '购物获得'), ('sign_in', '每日签到'), ('review', '商品评价'), ('share', '分享'), ('exchange', '积分兑换'), ('checkout', '下单抵扣'), ('expire', '积分过期'), ('adjust', '后台调整'), ('refund', '退款退回'), ('clawback', '退款扣回积分')], max_length=16, verbose_name='类型'),
        ),
        migrations.AddConstraint(
            model_name='pointsentry',
            constraint=models.CheckConstraint(condition=models.Q(('balance_after__gte', 0), ('delta__gt', 0), ('kind', 'clawback'), _connector='OR'), name='points_entry_only_clawback_goes_negative'),
        ),
    ]
