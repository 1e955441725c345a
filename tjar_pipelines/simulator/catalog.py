"""Deterministic, realistic Tjar objects: Arabic and English text, nulls, every line type."""

from __future__ import annotations

import random
from typing import Any

STATUSES = (
    ("Pending", "قيد الانتظار", "warning"),
    ("Processing", "قيد التنفيذ", "info"),
    ("Shipped", "تم الشحن", "primary"),
    ("Delivered", "تم التوصيل", "success"),
    ("Cancelled", "ملغي", "danger"),
)
PAYMENT_STATUSES = (
    ("pending", "قيد الانتظار", "warning"),
    ("paid", "مدفوع", "success"),
    ("failed", "فشل", "danger"),
    ("refunded", "مسترد", "secondary"),
)
GATEWAYS = (
    ("tjar-pay", "Tjar Pay", "Tjar Pay"),
    ("cod", "الدفع عند الاستلام", "Cash on delivery"),
    ("bank-transfer", "تحويل بنكي", "Bank transfer"),
)
COUNTRIES = (("Saudi Arabia", "السعودية"), ("United Arab Emirates", "الإمارات"), ("Egypt", "مصر"))
CITIES = ("Riyadh", "Jeddah", "Dammam", "الرياض", "جدة", "مكة المكرمة", None)
FIRST = ("Ahmed", "Fatimah", "Omar", "Noura", "Khalid", "Sara", "Budi", "Layla")
FIRST_AR = ("أحمد", "فاطمة", "عمر", "نورة", "خالد", "سارة", "ليلى", "يوسف")
LAST = ("Al-Qahtani", "Al-Harbi", "Doremi", "Al-Otaibi", "Hassan", "Al-Shehri")
LAST_AR = ("القحطاني", "الحربي", "العتيبي", "الشهري", "حسن", "الزهراني")
PRODUCT_WORDS = (
    ("Nike Sports Shoe", "حذاء رياضي نايك"),
    ("Arabic Coffee 500g", "قهوة عربية ٥٠٠ جرام"),
    ("Oud Perfume", "عطر عود"),
    ("Cotton Thobe", "ثوب قطني"),
    ("Dates Box (Sukkari)", "علبة تمر سكري"),
    ("Prayer Mat", "سجادة صلاة"),
    ("Phone Case", "غطاء جوال"),
    ("Abaya", "عباية"),
)
# type_id: 1 physical, 2 digital, 3 booking, 4 service (ids beyond 1 are a guess, §5.2)
PRODUCT_TYPES = (
    (1, "physical", "مادي"),
    (1, "physical", "مادي"),
    (1, "physical", "مادي"),
    (2, "digital", "رقمي"),
    (3, "booking", "حجز"),
    (4, "service", "خدمة"),
)
COLOURS = {"ar": {"أزرق": 5, "أحمر": 4, "أبيض": 0}, "en": {"Blue": 5, "Red": 4, "White": 0}}


def amount(cents: int, as_string: bool) -> float | str:
    """An amount in halalas as Tjar sends it: a JSON number, or a numeric string."""
    return f"{cents / 100:.2f}" if as_string else round(cents / 100, 2)


def label(entry: tuple[str, str, str]) -> dict[str, Any]:
    value, arabic, colour = entry
    english = value.capitalize() if value.islower() else value
    return {"value": value, "label": {"ar": arabic, "en": english}, "color": colour}


def build_product(
    rng: random.Random, ident: int, created: str, updated: str, as_string: bool, lang: str
) -> dict[str, Any]:
    """One product object as ``GET /products/{id}`` returns it (§5.2)."""
    en, ar = PRODUCT_WORDS[ident % len(PRODUCT_WORDS)]
    type_id, type_en, _type_ar = PRODUCT_TYPES[ident % len(PRODUCT_TYPES)]
    price = rng.randrange(1000, 90000)
    sale = price - rng.randrange(0, price // 3) if rng.random() < 0.4 else price
    unlimited = type_id != 1
    options: list[dict[str, Any]] = []
    if type_id == 1 and rng.random() < 0.6:
        options.append(
            {
                "type": "radio",
                "title": {"ar": "اللون", "en": "Colour"},
                "sub_title": {"ar": "اختر اللون", "en": "Pick a colour"},
                "options": COLOURS,
                "is_required": True,
                "multi_select": False,
            }
        )
    if rng.random() < 0.3:
        options.append(
            {
                "type": "text",
                "title": {"ar": "عبارة الإهداء", "en": "Gift message"},
                "sub_title": {"ar": "", "en": ""},
                "options": None,
                "is_required": False,
                "multi_select": False,
            }
        )
    return {
        "id": ident,
        "identifier": ident,
        "name": {"ar": f"{ar} {ident}", "en": f"{en} {ident}"},
        "summary": {"ar": f"ملخص {ar}", "en": f"Summary of {en}"},
        "description": {"ar": f"<p>{ar}</p>", "en": f"<p>{en}</p>"},
        "type": type_en,
        "type_id": type_id,
        "price": amount(price, as_string),
        "sale_price": amount(sale, as_string),
        "is_refundable": type_id == 1,
        "min_purchase": 1,
        "max_purchase": rng.choice((5, 10, 99)),
        "image": f"https://cdn.tjar.test/assets/tenant/uploads/media-uploader/p{ident}.png",
        "is_published": rng.random() < 0.9,
        "stock": None if unlimited else rng.randrange(0, 400),
        "is_unlimited": unlimited,
        "ratings": None,
        "created_at": created,
        "updated_at": updated,
        "product_options": options,
    }


def build_order(
    rng: random.Random,
    ident: int,
    products: list[dict[str, Any]],
    created: str,
    updated: str,
    status: int,
    payment: int,
    as_string: bool,
    lang: str,
) -> dict[str, Any]:
    """One order object as ``GET /orders/{id}`` returns it (§4.2), lines included."""
    arabic_name = rng.random() < 0.4
    if arabic_name:
        name = f"{rng.choice(FIRST_AR)} {rng.choice(LAST_AR)}"
    else:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    customer_id = rng.randrange(1, 5000)
    email = f"customer{customer_id}@example.sa"
    phone = f"9665{rng.randrange(10_000_000, 99_999_999)}"
    country_en, country_ar = rng.choice(COUNTRIES)
    city = rng.choice(CITIES)
    lines: list[dict[str, Any]] = []
    total = 0
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4))):
        product = products[rng.randrange(len(products))]
        type_id = int(product["type_id"])
        qty = 1 if type_id in (3, 4) else rng.randrange(1, 4)
        price = round(float(product["sale_price"]) * 100)
        option_cost = 0
        chosen: list[dict[str, Any]] = []
        if product["product_options"] and rng.random() < 0.7:
            colour = rng.choice(("Blue", "Red", "White"))
            option_cost = {"Blue": 500, "Red": 400, "White": 0}[colour]
            chosen.append(
                {"label": "Colour", "value": colour, "type": "radio", "cost": option_cost / 100}
            )
        discount = rng.choice((0, 0, 0, 500))
        discount = min(discount, (price + option_cost) * qty)
        subtotal = (price + option_cost) * qty - discount
        tax = subtotal * 15 // 115 if rng.random() < 0.5 else 0
        total += subtotal
        is_booking = type_id == 3
        type_label = {
            1: ("مادي", "physical"),
            2: ("رقمي", "digital"),
            3: ("حجز", "booking"),
            4: ("خدمة", "service"),
        }[type_id]
        lines.append(
            {
                "id": product["id"],
                "name": product["name"]["ar" if lang == "ar" else "en"],
                "qty": qty,
                "price": amount(price, as_string),
                "weight": 0 if type_id != 1 else rng.choice((0.5, 1, 2)),
                "type": type_id,
                "type_label": type_label[0] if lang == "ar" else type_label[1],
                "options": {
                    "image": product["image"],
                    "used_categories": {
                        "category": [{"id": 2, "label": "Pakaian"}],
                        "subcategory": [],
                    },
                    "product_options_cost": option_cost / 100,
                    "product_options": chosen,
                    "dimensions": {"h": 0, "l": 0, "w": 0},
                    "is_booking": is_booking,
                    "booking": {"date": created[:10], "time": "18:30", "duration_minutes": 60}
                    if is_booking
                    else None,
                },
                "discount": amount(discount, as_string),
                "tax": amount(tax, as_string),
                "subtotal": amount(subtotal, as_string),
            }
        )
    coupon = rng.choice((None, None, None, "FREE50", "RAMADAN10"))
    coupon_discount = min(total, rng.choice((500, 1000, 1350))) if coupon else 0
    shipping = rng.choice((0, 2500, 3000))
    total = total - coupon_discount + shipping
    gateway = rng.choice(GATEWAYS)
    return {
        "id": ident,
        "identifier": ident,
        "order_id": f"{created[2:4]}{ident:04d}",
        "name": name,
        "email": email,
        "phone": phone,
        "address": None if city is None else f"{rng.randrange(1, 9999)} King Fahd Rd",
        "customer": {
            "id": customer_id,
            "name": name,
            "email": email,
            "mobile": phone,
            "avatar": "https://cdn.tjar.test/assets/no-image.jpg",
        },
        "city": city,
        "state": None,
        "country": country_ar if lang == "ar" else country_en,
        "zipcode": None,
        "full_address": ", ".join(
            x for x in (city, country_ar if lang == "ar" else country_en) if x
        ),
        "total_amount": amount(total, as_string),
        "formatted_total_amount": f"{total / 100:.2f} <sar></sar>",
        "coupon": coupon,
        "coupon_discounted": amount(coupon_discount, as_string),
        "status": label(STATUSES[status]),
        "payment_status": label(PAYMENT_STATUSES[payment]),
        "payment_gateway": {"value": gateway[0], "label": {"ar": gateway[1], "en": gateway[2]}},
        "transaction_id": None if gateway[0] == "cod" else f"{gateway[0]}::{rng.getrandbits(40):x}",
        "order_details": lines,
        "created_at": created,
        "updated_at": updated,
    }
