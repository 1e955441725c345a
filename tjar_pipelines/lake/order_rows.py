"""The ``orders`` and ``order_items`` rows of many orders, computed by DuckDB from their JSON.

This is the bulk path of :func:`tjar_pipelines.lake.tables.orders_table`: the same rows, built
in C++ instead of Python object by object (about five times less CPU per order). It follows
the parsing rules of :mod:`tjar_pipelines.client.records` for the shapes Tjar actually sends
(numbers, plain strings, ``{"value": ...}`` enums, ``{"en", "ar"}`` names, amounts with up to
two decimals). Any order with a value outside those shapes (a float identifier, ``"1e3"`` as a
price, an amount with more decimals than the halala, Arabic-Indic digits...) gets ``ok``
false and is parsed by the Python records instead, so both paths give identical rows; a
property test compares them on random payloads.
"""

from __future__ import annotations

# Python's str.strip() removes exactly the characters for which str.isspace() is true (a test
# checks this list against every code point). One string literal: each use binds as a single
# constant (as chr() calls it made every plan large).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = "'" + WHITESPACE.replace("'", "''") + "'"

_NUMBERS = "('BIGINT', 'UBIGINT', 'DOUBLE')"

# Every field is read once into three columns the macros take: ``v`` its text (a string's
# without quotes and escapes, any other value's JSON), ``t`` its JSON type (DuckDB's names:
# UBIGINT for integers >= 0, BIGINT for negative ones, DOUBLE for the other numbers, 'NULL' when
# absent) and ``s`` its text when it is a string. Computing them once keeps both the work per
# row and DuckDB's planning per batch small.
#
# Each ``tj_<kind>_ok`` is true when ``tj_<kind>`` gives exactly what the Python parser gives
# for that value. CASE, so the regexes only run on strings; TRY_CAST, as the values of rows that
# are not ok are computed too, then thrown away.
MACROS = f"""
CREATE OR REPLACE MACRO tj_str(s) AS trim(s, {_WS});
CREATE OR REPLACE MACRO tj_money_text(s) AS replace(tj_str(s), ',', '');
-- '' or an amount of at most 15 digits, at most 2 of them decimals. One regex, so the text is
-- written once into the plan: a macro's argument is copied wherever the macro uses it.
CREATE OR REPLACE MACRO tj_amount_text(x) AS regexp_full_match(x,
    '([+-]?([0-9]{{1,15}}|[0-9]{{1,14}}\\.[0-9]|[0-9]{{1,13}}\\.[0-9]{{2}}))?');

-- records.identifier / records.text: floats are left to Python
CREATE OR REPLACE MACRO tj_scalar_ok(t) AS t <> 'DOUBLE';
CREATE OR REPLACE MACRO tj_id(v, t, s) AS CASE t
    WHEN 'VARCHAR' THEN nullif(tj_str(s), '')
    WHEN 'UBIGINT' THEN v::VARCHAR WHEN 'BIGINT' THEN v::VARCHAR END;
CREATE OR REPLACE MACRO tj_text(v, t, s) AS CASE t
    WHEN 'VARCHAR' THEN s WHEN 'UBIGINT' THEN v::VARCHAR WHEN 'BIGINT' THEN v::VARCHAR END;

-- records.money then tables.cents: exact for amounts of at most 15 digits and 2 decimals
CREATE OR REPLACE MACRO tj_money_ok(v, t, s) AS CASE t
    WHEN 'DOUBLE' THEN coalesce(abs(try_cast(v AS DOUBLE)) < 1e13
                                AND round(try_cast(v AS DOUBLE), 2) = try_cast(v AS DOUBLE), false)
    WHEN 'UBIGINT' THEN try_cast(v AS HUGEINT) < 1000000000000000
    WHEN 'BIGINT' THEN try_cast(v AS HUGEINT) > -1000000000000000
    WHEN 'VARCHAR' THEN tj_amount_text(tj_money_text(s))
    ELSE true END;
CREATE OR REPLACE MACRO tj_money(v, t, s) AS CASE
    WHEN t IN {_NUMBERS} THEN try_cast(v::VARCHAR AS DECIMAL(18, 2))
    WHEN t = 'VARCHAR' THEN try_cast(nullif(tj_money_text(s), '') AS DECIMAL(18, 2))
    END;

-- records.money as a float (weights): any finite JSON number or plain decimal text (both
-- sides round the decimal to the nearest double)
CREATE OR REPLACE MACRO tj_float_ok(v, t, s) AS CASE
    WHEN t IN {_NUMBERS} THEN coalesce(isfinite(try_cast(v AS DOUBLE)), false)
    WHEN t = 'VARCHAR'
        THEN regexp_full_match(tj_money_text(s), '([+-]?[0-9]{{1,300}}(\\.[0-9]{{1,300}})?)?')
    ELSE true END;
CREATE OR REPLACE MACRO tj_float(v, t, s) AS CASE
    WHEN t IN {_NUMBERS} THEN try_cast(v AS DOUBLE)
    WHEN t = 'VARCHAR' THEN try_cast(nullif(tj_money_text(s), '') AS DOUBLE) END;

-- records.integer, within [low, high] (the column's range)
CREATE OR REPLACE MACRO tj_integer_ok(v, t, s, low, high) AS CASE t
    WHEN 'UBIGINT' THEN try_cast(v AS HUGEINT) <= high
    WHEN 'BIGINT' THEN try_cast(v AS HUGEINT) >= low
    WHEN 'DOUBLE' THEN false
    WHEN 'VARCHAR' THEN regexp_full_match(tj_str(s), '[+-]?[0-9]{{1,9}}')
    ELSE true END;
CREATE OR REPLACE MACRO tj_integer(v, t, s) AS CASE
    WHEN t IN ('UBIGINT', 'BIGINT') THEN try_cast(v AS BIGINT)
    WHEN t = 'VARCHAR' THEN try_cast(tj_str(s) AS BIGINT) END;

-- records.boolean
CREATE OR REPLACE MACRO tj_boolean_ok(t, s) AS CASE t
    WHEN 'VARCHAR' THEN regexp_full_match(s, '[\\x00-\\x7f]*')
    ELSE true END;
CREATE OR REPLACE MACRO tj_boolean(v, t, s) AS CASE t
    WHEN 'BOOLEAN' THEN v::BOOLEAN
    WHEN 'UBIGINT' THEN try_cast(v AS HUGEINT) <> 0
    WHEN 'BIGINT' THEN try_cast(v AS HUGEINT) <> 0
    WHEN 'VARCHAR' THEN CASE
        WHEN lower(tj_str(s)) IN ('1', 'true', 'yes') THEN true
        WHEN lower(tj_str(s)) IN ('0', 'false', 'no') THEN false END END;
"""

# The fields read, by JSON path. An enum is its ``value`` when it is an object, a product
# name its ``en`` (records.enum_value, records.name_en).
_ORDER_FIELDS = {
    "order_id": "order_id", "status": "status", "payment_status": "payment_status",
    "payment_gateway": "payment_gateway", "total_amount": "total_amount", "coupon": "coupon",
    "coupon_discounted": "coupon_discounted", "customer_id": "customer.id",
    "customer_name": "customer.name", "customer_email": "customer.email",
    "customer_mobile": "customer.mobile", "name": "name", "email": "email", "phone": "phone",
    "country": "country", "city": "city", "transaction_id": "transaction_id",
}  # fmt: skip
_ORDER_OBJECTS = {"status": "value", "payment_status": "value", "payment_gateway": "value"}
_ITEM_FIELDS = {
    "product_id": "product_id", "id": "id", "name": "name", "qty": "qty", "price": "price",
    "discount": "discount", "tax": "tax", "subtotal": "subtotal", "weight": "weight",
    "type": "type", "type_label": "type_label", "options_is_booking": "options.is_booking",
    "is_booking": "is_booking", "options_cost": "options.product_options_cost",
}  # fmt: skip
_ITEM_OBJECTS = {"name": "en"}


def _read(table: str, fields: dict[str, str], objects: dict[str, str]) -> str:
    """``table`` with the ``v_``, ``t_`` and ``s_`` columns of each field.

    Two passes over each row's JSON, one for the types of every path and one for their texts,
    instead of one that writes each value out as JSON again and a parse of each value after.
    """
    names = list(fields)
    paths = [f"$.{path}" for path in fields.values()]
    inner: dict[str, int] = {}  # an enum's or a name's key inside an object, by field
    for name, key in objects.items():
        paths.append(f"$.{fields[name]}.{key}")
        inner[name] = len(paths)
    listed = "[" + ", ".join(f"'{path}'" for path in paths) + "]"
    columns = []
    for n, name in enumerate(names, start=1):
        if name in inner:
            k = inner[name]
            value = f"CASE WHEN ty[{n}] = 'OBJECT' THEN tx[{k}] ELSE tx[{n}] END"
            kind = f"CASE WHEN ty[{n}] = 'OBJECT' THEN ty[{k}] ELSE ty[{n}] END"
        else:
            value, kind = f"tx[{n}]", f"ty[{n}]"
        columns.append(f"{value} AS v_{name}, coalesce({kind}, 'NULL') AS t_{name}")
    texts = [f"CASE WHEN t_{name} = 'VARCHAR' THEN v_{name} END AS s_{name}" for name in names]
    return (
        f"(SELECT *, {', '.join(texts)} FROM "
        f"(SELECT * EXCLUDE (ty, tx), {', '.join(columns)} FROM "
        f"(SELECT *, json_type(raw, {listed}) AS ty, json_extract_string(raw, {listed}) AS tx "
        f"FROM {table})))"
    )


def _f(name: str) -> str:
    """The macro arguments of field ``name``: its value, type and text."""
    return f"v_{name}, t_{name}, s_{name}"


_TEXTS = (
    "coupon", "customer_name", "customer_email", "customer_mobile", "name", "email", "phone",
    "country", "city", "transaction_id",
)  # fmt: skip

_ORDER_OK = " AND ".join(
    [
        *(
            f"tj_scalar_ok(t_{k})"
            for k in ("order_id", "status", "payment_status", "payment_gateway", "customer_id")
        ),
        f"tj_money_ok({_f('total_amount')})",
        f"tj_money_ok({_f('coupon_discounted')})",
        *(f"tj_scalar_ok(t_{k})" for k in _TEXTS),
    ]
)
_ITEM_OK = " AND ".join(
    [
        *(f"tj_scalar_ok(t_{k})" for k in ("product_id", "id", "name", "type_label")),
        f"tj_integer_ok({_f('qty')}, -9223372036854775808, 9223372036854775807)",
        f"tj_integer_ok({_f('type')}, -2147483648, 2147483647)",
        *(
            f"tj_money_ok({_f(k)})"
            for k in ("price", "discount", "tax", "subtotal", "options_cost")
        ),
        f"tj_float_ok({_f('weight')})",
        "tj_boolean_ok(t_options_is_booking, s_options_is_booking)",
        "tj_boolean_ok(t_is_booking, s_is_booking)",
    ]
)


def _person(field: str, fallback: str) -> str:
    """The customer's field, else the order's own (records: ``customer.name or name``)."""
    return f"coalesce(nullif(tj_text({_f(field)}), ''), tj_text({_f(fallback)}))"


# A batch of orders (the Arrow table ``spooled_orders``) as ``orders`` rows, plus ``ok``:
# false where Python must parse the order.
ORDERS_SQL = f"""
    SELECT $store AS store,
           identifier,
           tj_text({_f("order_id")}) AS order_number,
           tj_text({_f("status")}) AS status,
           tj_text({_f("payment_status")}) AS payment_status,
           tj_text({_f("payment_gateway")}) AS payment_gateway,
           tj_money({_f("total_amount")}) AS total_amount,
           tj_text({_f("coupon")}) AS coupon,
           tj_money({_f("coupon_discounted")}) AS coupon_discount,
           tj_id({_f("customer_id")}) AS customer_id,
           {_person("customer_name", "name")} AS customer_name,
           {_person("customer_email", "email")} AS customer_email,
           {_person("customer_mobile", "phone")} AS customer_mobile,
           tj_text({_f("country")}) AS country,
           tj_text({_f("city")}) AS city,
           tj_text({_f("transaction_id")}) AS transaction_id,
           line_count AS item_count,
           created_at,
           updated_at,
           order_date,
           $synced_at::TIMESTAMPTZ AS synced_at,
           raw,
           {_ORDER_OK} AS ok
    FROM {_read("spooled_orders", _ORDER_FIELDS, _ORDER_OBJECTS)}
"""

# The orders' lines: the objects of each ``order_details`` array, numbered from 1 by their place
# in it (as records.order_lines numbers them), cut from the order's JSON here rather than by
# Python order by order. ``raw`` is DuckDB's writing of the line: the same JSON as orjson's, but
# numbers and escapes may be spelled differently (``1e16`` as ``10000000000000000.0``).
_LINES = """(SELECT identifier, order_date, line_number, line::VARCHAR AS raw FROM
    (SELECT identifier, order_date, unnest(lines) AS line,
            generate_subscripts(lines, 1) AS line_number FROM
        (SELECT identifier, order_date, json_extract(raw, '$.order_details[*]') AS lines
         FROM spooled_orders))
    WHERE json_type(line) = 'OBJECT')"""

# Their lines as ``order_items`` rows, plus ``ok``.
ITEMS_SQL = f"""
    SELECT $store AS store,
           identifier AS order_identifier,
           line_number,
           coalesce(tj_id({_f("product_id")}), tj_id({_f("id")})) AS product_id,
           tj_text({_f("name")}) AS name,
           tj_integer({_f("qty")}) AS qty,
           tj_money({_f("price")}) AS price,
           tj_money({_f("discount")}) AS discount,
           tj_money({_f("tax")}) AS tax,
           tj_money({_f("subtotal")}) AS subtotal,
           tj_money({_f("options_cost")}) AS options_cost,
           tj_float({_f("weight")}) AS weight,
           try_cast(tj_integer({_f("type")}) AS INTEGER) AS type,
           tj_text({_f("type_label")}) AS type_label,
           coalesce(tj_boolean({_f("options_is_booking")}), false)
               OR coalesce(tj_boolean({_f("is_booking")}), false) AS is_booking,
           order_date,
           raw,
           {_ITEM_OK} AS ok
    FROM {_read(_LINES, _ITEM_FIELDS, _ITEM_OBJECTS)}
"""
