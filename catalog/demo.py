"""Demo catalogue: 7 top categories with children, 66 products with options, SKUs and pictures.

Idempotent: categories and products are found by name; a second run creates nothing and
returns 0. Pictures are drawn with Pillow (catalog.demo_art: each sub-category's kind of goods,
shaded, in colours the product's name picks), with their thumbnails, so nothing is downloaded.
"""

import hashlib
import random
from decimal import Decimal

from django.core.files.base import ContentFile

from . import cache as catalog_cache
from .demo_art import category_picture, kind_for, product_picture
from .models import Category, Product
from .services import (
    add_product_image,
    create_product,
    generate_category_icon,
    generate_sku_grid,
    refresh_price_range,
    set_options,
)

# top category -> {child: [(name, subtitle, tags, base price, options)]}
# options: {name: [values]}, or {name: {value: price}} for the one option that sets the price (a
# bigger pack or size costs more; colours, flavours and clothing sizes do not). A size that is an
# option is not repeated in the product's name, so a SKU never reads "五常大米 5kg 5kg".
CATALOGUE = {
    "食品饮料": {
        "休闲零食": [
            ("三只松鼠每日坚果", "7种坚果果干科学配比，独立小包装", "坚果,零食,早餐", "49.90", {"规格": {"375g/15袋": "49.90", "750g/30袋": "89.90"}}),
            ("良品铺子猪肉脯 200g", "靖江风味，薄切慢烤", "肉干,零食", "29.90", {"口味": ["原味", "蜜汁", "香辣"]}),
            ("乐事薯片大礼包 12袋", "经典原味、黄瓜、番茄多口味", "薯片,膨化", "39.90", {}),
            ("卫龙大面筋辣条 106g×10", "童年味道，麻辣劲爽", "辣条,零食", "25.80", {}),
            ("百草味芒果干", "泰国风味，酸甜软糯", "果干,零食", "19.90", {"规格": {"120g": "19.90", "120g×3袋": "54.90"}}),
        ],
        "饮料冲调": [
            ("农夫山泉饮用天然水 550ml×24瓶", "我们不生产水，我们只是大自然的搬运工", "矿泉水,整箱", "36.00", {}),
            ("元气森林气泡水 480ml×15", "0糖0脂0卡", "气泡水,无糖", "69.00", {"口味": ["白桃", "青瓜", "卡曼橘"]}),
            ("雀巢咖啡1+2原味 15g×48条", "香浓顺滑，速溶三合一", "咖啡,速溶", "59.00", {}),
            ("蒙牛纯牛奶 250ml×24盒", "每100ml含3.2g乳蛋白", "牛奶,整箱", "62.00", {}),
            ("东方树叶 500ml×15", "原味茶饮，0糖0卡", "茶饮料", "55.00", {"口味": ["乌龙茶", "茉莉花茶", "红茶"]}),
        ],
        "粮油调味": [
            ("五常大米稻花香", "东北黑土地，当季新米", "大米,主食", "69.90", {"规格": {"5kg": "69.90", "10kg": "129.90"}}),
            ("金龙鱼黄金比例调和油 5L", "1:1:1 膳食脂肪酸", "食用油", "79.90", {}),
            ("海天金标生抽", "特级酿造酱油", "酱油,调味", "16.90", {"规格": {"1.28L": "16.90", "1.28L×2瓶": "31.90"}}),
            ("李锦记旧庄特级蚝油 510g", "鲜蚝熬制，提鲜增味", "蚝油,调味", "13.50", {}),
        ],
    },
    "酒水": {
        "白酒": [
            ("贵州茅台酒 飞天53度 500ml", "酱香型白酒", "白酒,酱香,送礼", "2699.00", {}),
            ("五粮液 第八代 52度 500ml", "浓香型白酒", "白酒,浓香,送礼", "1099.00", {"规格": {"单瓶": "1099.00", "双瓶礼盒": "2168.00"}}),
            ("洋河梦之蓝M6+ 52度 550ml", "绵柔型白酒", "白酒,绵柔", "699.00", {}),
            ("汾酒 青花20 53度 500ml", "清香型白酒", "白酒,清香", "419.00", {}),
        ],
        "葡萄酒": [
            ("张裕解百纳干红葡萄酒 750ml", "第九代特选级", "红酒,干红", "128.00", {"规格": {"单瓶": "128.00", "6瓶整箱": "729.00"}}),
            ("奔富BIN389 赤霞珠设拉子 750ml", "澳大利亚进口", "红酒,进口", "599.00", {}),
            ("长城五星赤霞珠干红 750ml", "中粮出品", "红酒,国产", "168.00", {}),
        ],
        "啤酒": [
            ("青岛啤酒经典 500ml", "百年经典，醇厚爽口", "啤酒,整箱", "59.00", {"规格": {"12听": "59.00", "24听": "109.00"}}),
            ("雪花勇闯天涯 500ml×12听", "清爽不苦", "啤酒", "46.00", {}),
            ("燕京U8 小度特酿 500ml×12听", "8度麦汁浓度", "啤酒", "52.00", {}),
        ],
    },
    "个护美妆": {
        "面部护肤": [
            ("珀莱雅双抗精华液", "抗糖抗氧，提亮肤色", "精华,护肤", "329.00", {"容量": {"30ml": "329.00", "50ml": "469.00"}}),
            ("自然堂冰肌水 160ml", "补水保湿，喜马拉雅冰川水", "爽肤水,补水", "109.00", {}),
            ("薇诺娜舒敏保湿特护霜 50g", "敏感肌修护", "面霜,敏感肌", "268.00", {}),
            ("百雀羚水能量焕颜礼盒", "水乳霜三件套", "套装,送礼", "299.00", {}),
        ],
        "洗发护发": [
            ("海飞丝去屑洗发露", "丝质柔滑型", "洗发水,去屑", "69.90", {"规格": {"750ml": "69.90", "750ml×2瓶": "129.90"}}),
            ("滋源无硅油洗发水 400ml", "控油蓬松", "洗发水,无硅油", "79.00", {"款式": ["控油", "修护", "去屑"]}),
            ("潘婷3分钟奇迹护发素 270ml", "深层修护受损发质", "护发素", "59.90", {}),
        ],
        "口腔护理": [
            ("云南白药牙膏 留兰香型 180g×3", "帮助减轻牙龈问题", "牙膏", "79.90", {}),
            ("舒适达抗敏感牙膏 120g", "专业抗敏", "牙膏,抗敏感", "39.90", {"口味": ["清新薄荷", "美白配方"]}),
            ("飞利浦电动牙刷 HX2471", "声波震动，两种模式", "电动牙刷", "199.00", {"颜色": ["白色", "粉色", "蓝色"]}),
        ],
    },
    "家居日用": {
        "收纳整理": [
            ("天马收纳箱 加厚大号 3只装", "衣物被子储物，可叠加", "收纳箱", "99.00", {"颜色": ["透明", "灰色"], "尺寸": {"45L": "99.00", "60L": "129.00"}}),
            ("衣柜分层隔板收纳架", "免钉安装，伸缩可调", "收纳,衣柜", "29.90", {"规格": {"2个装": "29.90", "4个装": "55.90"}}),
            ("桌面化妆品收纳盒", "透明亚克力，带抽屉", "收纳盒", "39.00", {}),
        ],
        "厨房用品": [
            ("苏泊尔不粘炒锅", "少油烟，燃气电磁炉通用", "炒锅,厨具", "199.00", {"尺寸": {"30cm": "199.00", "32cm": "229.00"}}),
            ("双立人刀具五件套", "德国工艺，不锈钢", "刀具,厨具", "599.00", {}),
            ("乐扣乐扣保鲜盒 6件套", "密封防漏，可微波", "保鲜盒", "89.00", {}),
            ("膳魔师保温杯 500ml", "不锈钢真空，12小时保温", "保温杯", "199.00", {"颜色": ["黑色", "白色", "薄荷绿"]}),
        ],
        "清洁用品": [
            ("维达抽纸 3层100抽×24包", "柔韧亲肤，整箱装", "纸巾,整箱", "59.90", {}),
            ("蓝月亮洗衣液 薰衣草", "深层洁净，持久留香", "洗衣液", "49.90", {"规格": {"3kg": "49.90", "3kg+1kg补充装": "62.90"}}),
            ("威露士消毒液 1L", "杀菌99.999%", "消毒液", "39.90", {}),
            ("妙洁一次性手套 100只", "食品级PE材质", "手套", "12.90", {}),
        ],
    },
    "母婴": {
        "奶粉辅食": [
            ("飞鹤星飞帆婴幼儿奶粉 700g", "更适合中国宝宝体质", "奶粉,婴儿", "268.00", {"段位": ["1段", "2段", "3段"]}),
            ("爱他美卓萃 2段 900g", "德国进口", "奶粉,进口", "398.00", {}),
            ("嘉宝米粉 原味 250g", "婴儿辅食，高铁配方", "米粉,辅食", "45.00", {}),
        ],
        "尿裤湿巾": [
            ("帮宝适一级帮纸尿裤", "日本进口，超薄透气", "纸尿裤", "139.00", {"尺码": ["S", "M", "L", "XL"]}),
            ("好奇心钻装拉拉裤", "丝柔透气", "拉拉裤", "129.00", {"尺码": ["L", "XL", "XXL"]}),
            ("全棉时代婴儿湿巾 80抽×6包", "纯棉水刺无纺布", "湿巾", "59.90", {}),
        ],
        "童装": [
            ("巴拉巴拉儿童卫衣", "纯棉圆领，春秋款", "童装,卫衣", "129.00", {"颜色": ["红色", "藏青"], "尺码": ["110", "120", "130", "140"]}),
            ("安踏儿童运动鞋", "透气网面，防滑耐磨", "童鞋,运动", "199.00", {"颜色": ["黑色", "白色"], "尺码": ["30", "32", "34"]}),
        ],
    },
    "生鲜": {
        "水果": [
            ("佳沛新西兰阳光金奇异果", "单果约100g，当季鲜果", "奇异果,进口水果", "89.00", {"规格": {"12个装": "89.00", "22个装": "149.00"}}),
            ("山东烟台红富士苹果", "脆甜多汁，产地直发", "苹果,水果", "39.90", {"规格": {"5斤": "39.90", "10斤": "69.90"}}),
            ("海南贵妃芒 3斤", "香甜软糯，树上熟", "芒果,水果", "29.90", {}),
            ("丹东99草莓 500g", "大果新鲜，冷链配送", "草莓,水果", "59.90", {}),
        ],
        "蔬菜": [
            ("有机西兰花 500g", "基地直采，无农药残留", "蔬菜,有机", "12.90", {}),
            ("云南高山娃娃菜 2颗", "清甜脆嫩", "蔬菜", "8.90", {}),
            ("东北黄心土豆 5斤", "软糯香甜", "土豆,蔬菜", "15.90", {}),
        ],
        "肉禽蛋": [
            ("农家散养土鸡蛋", "散养农家鸡蛋", "鸡蛋,禽蛋", "39.90", {"规格": {"30枚": "39.90", "60枚": "75.90"}}),
            ("内蒙古羔羊肉卷 500g", "火锅涮肉，肥瘦相间", "羊肉,火锅", "49.90", {}),
            ("黑猪五花肉 500g", "农家散养黑猪", "猪肉", "36.90", {}),
        ],
    },
    "服饰鞋包": {
        "男装": [
            ("男士纯棉短袖T恤", "重磅精梳棉，不易变形", "T恤,男装", "79.00", {"颜色": ["白色", "黑色", "灰色"], "尺码": ["M", "L", "XL", "XXL"]}),
            ("男士休闲直筒牛仔裤", "弹力修身", "牛仔裤,男装", "159.00", {"颜色": ["浅蓝", "深蓝"], "尺码": ["30", "32", "34"]}),
        ],
        "女装": [
            ("女士法式碎花连衣裙", "收腰显瘦，夏季新款", "连衣裙,女装", "199.00", {"颜色": ["蓝色碎花", "黄色碎花"], "尺码": ["S", "M", "L"]}),
            ("女士羊毛针织开衫", "柔软亲肤，百搭外套", "开衫,女装", "259.00", {"颜色": ["米白", "燕麦", "黑色"], "尺码": ["S", "M", "L"]}),
        ],
        "箱包": [
            ("小米旅行箱", "PC材质，万向轮", "行李箱", "299.00", {"颜色": ["黑色", "蓝色", "银色"], "尺寸": {"20英寸": "299.00", "24英寸": "399.00"}}),
            ("双肩电脑背包 15.6英寸", "防泼水，多隔层", "背包", "129.00", {"颜色": ["黑色", "灰色"]}),
        ],
    },
}

# names of earlier demo catalogues, kept the same products under their new names on a second run
RENAMED = {
    "三只松鼠每日坚果 750g": "三只松鼠每日坚果",
    "百草味芒果干 120g": "百草味芒果干",
    "五常大米稻花香 5kg": "五常大米稻花香",
    "海天金标生抽 1.28L": "海天金标生抽",
    "青岛啤酒经典 500ml×12听": "青岛啤酒经典 500ml",
    "珀莱雅双抗精华液 30ml": "珀莱雅双抗精华液",
    "海飞丝去屑洗发露 750ml": "海飞丝去屑洗发露",
    "苏泊尔不粘炒锅 32cm": "苏泊尔不粘炒锅",
    "蓝月亮洗衣液 薰衣草 3kg": "蓝月亮洗衣液 薰衣草",
    "飞鹤星飞帆婴幼儿奶粉 3段 700g": "飞鹤星飞帆婴幼儿奶粉 700g",
    "帮宝适一级帮纸尿裤 L码 52片": "帮宝适一级帮纸尿裤",
    "好奇心钻装拉拉裤 XL 36片": "好奇心钻装拉拉裤",
    "佳沛新西兰阳光金奇异果 12个": "佳沛新西兰阳光金奇异果",
    "山东烟台红富士苹果 5斤": "山东烟台红富士苹果",
    "土鸡蛋 30枚": "农家散养土鸡蛋",
    "小米旅行箱 20英寸": "小米旅行箱",
    "元气森林白桃气泡水 480ml×15": "元气森林气泡水 480ml×15",
    "东方树叶乌龙茶 500ml×15": "东方树叶 500ml×15",
}


def _category(name, parent, order, kind):
    category = Category.objects.filter(name=name, parent=parent).first()
    if category:
        # catalogues seeded before icon thumbnails existed get them once
        return category, int(not category.icon_thumb and generate_category_icon(category))
    category = Category(name=name, parent=parent, sort_order=order)
    category.icon.save(
        f"demo-cat-{hashlib.md5(name.encode()).hexdigest()[:10]}.jpg",
        ContentFile(category_picture(kind, name)),
        save=False,
    )
    category.save()
    return category, 1


def _rename_earlier_products():
    renamed = 0
    for old, new in RENAMED.items():
        if not Product.objects.filter(name=new).exists():
            renamed += Product.objects.filter(name=old).update(name=new)
    if renamed:
        catalog_cache.bump()
    return renamed


def seed(out):
    rng = random.Random(2026)
    changed = _rename_earlier_products()
    for top_order, (top_name, children) in enumerate(CATALOGUE.items()):
        top, n = _category(top_name, None, top_order, kind_for(next(iter(children))))
        changed += n
        for child_order, (child_name, products) in enumerate(children.items()):
            kind = kind_for(child_name)
            child, n = _category(child_name, top, child_order, kind)
            changed += n
            for index, (name, subtitle, tags, price, options) in enumerate(products):
                if Product.objects.filter(name=name).exists():
                    continue
                changed += _product(rng, child, kind, name, subtitle, tags, Decimal(price), options, index)
    total = Product.objects.count()
    out(f"  catalogue: {Category.objects.count()} categories, {total} products")
    return changed


def _product(rng, category, kind, name, subtitle, tags, price, options, index):
    product = create_product(
        name=name,
        category=category,
        subtitle=subtitle,
        tags=tags,
        description=(
            f"<h3>{name}</h3><p>{subtitle}。</p><ul><li>正品保障，假一赔十</li>"
            "<li>门店自提或快递到家</li><li>7天无理由退换（生鲜除外）</li></ul>"
        ),
        sort_weight=rng.randint(0, 100),
        sales_base=rng.choice([0, 12, 36, 88, 120, 356, 1024, 2300]),
        status=Product.Status.LISTED,
        price=None if options else price,
    )
    rows = 1
    add_product_image(product, ContentFile(product_picture(kind, name), name=f"demo-{product.pk}-1.jpg"), alt=name)
    if index % 3 == 0:  # a second view: the same goods in another colourway
        add_product_image(product, ContentFile(product_picture(kind, name, variant=1), name=f"demo-{product.pk}-2.jpg"))
    if options:
        rows += set_options(product, {option: list(values) for option, values in options.items()})
        result = generate_sku_grid(product, price=price, market_price=_market(price))
        rows += result.created
        for option, values in options.items():
            if not isinstance(values, dict):
                continue
            option_type = product.option_types.get(name=option)
            for value in option_type.values.all():
                value_price = Decimal(values[value.value])
                value.skus.update(price=value_price, market_price=_market(value_price))
        refresh_price_range(product)
    else:
        sku = product.skus.get()
        sku.market_price = (price * Decimal("1.2")).quantize(Decimal("1"))
        sku.cost_price = (price * Decimal("0.7")).quantize(Decimal("0.01"))
        sku.barcode = f"69{product.pk:011d}"
        sku.save()
        rows += 1
    return rows


def _market(price):
    return (price * Decimal("1.25")).quantize(Decimal("1"))
