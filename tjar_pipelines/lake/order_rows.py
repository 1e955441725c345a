"""The ``orders`` and ``order_items`` rows of many orders, computed by DuckDB from their JSON.

This is the bulk path of :func:`tjar_pipelines.lake.tables.orders_table`: the same rows, built
in C++ instead of Python object by object (about five times less CPU per order). It follows
the parsing rules of :mod:`tjar_pipelines.client.records` for the shapes Tjar actually sends
(numbers, plain strings, ``{"value": ...}`` enums, ``{"en", "ar"}`` names, amounts with up to
two decimals). Any order with a value outside those shapes (a float identifier, ``"1e3"`` as a
price, an amount with more decimals than the halala, Arabic-Indic digits...) is flagged
``exotic`` and parsed by the Python records instead, so both paths give identical rows; a
property test compares them on random payloads.
"""

from __future__ import annotations

import sys

# Python's str.strip() removes exactly the characters for which str.isspace() is true.
_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
_WS = " || ".join(f"chr({ord(c)})" for c in _WHITESPACE)

_NUMBERS = "('BIGINT', 'UBIGINT', 'DOUBLE')"

# Each ``tj_<kind>_ok(j)`` is true when ``tj_<kind>(j)`` gives exactly what the Python parser
# gives for the JSON value ``j`` (the type names are DuckDB's: UBIGINT for integers >= 0, BIGINT
# for negative ones, DOUBLE for the others). CASE, so the regexes only run on strings; TRY_CAST,
# as the values of rows that are not ok are computed too, then thrown away.
MACROS = f"""
CREATE OR REPLACE MACRO tj_type(j) AS coalesce(json_type(j), 'NULL');
CREATE OR REPLACE MACRO tj_str(j) AS trim(json_extract_string(j, '$'), {_WS});
CREATE OR REPLACE MACRO tj_money_text(j) AS replace(tj_str(j), ',', '');
CREATE OR REPLACE MACRO tj_amount_text(t) AS t = '' OR (
    regexp_full_match(t, '[+-]?[0-9]+(\\.[0-9]{{1,2}})?')
    AND length(regexp_replace(t, '[^0-9]', '', 'g')) <= 15);

-- records.identifier / records.text: floats are left to Python
CREATE OR REPLACE MACRO tj_scalar_ok(j) AS tj_type(j) <> 'DOUBLE';
CREATE OR REPLACE MACRO tj_id(j) AS CASE tj_type(j)
    WHEN 'VARCHAR' THEN nullif(tj_str(j), '')
    WHEN 'UBIGINT' THEN j::VARCHAR WHEN 'BIGINT' THEN j::VARCHAR END;
CREATE OR REPLACE MACRO tj_text(j) AS CASE tj_type(j)
    WHEN 'VARCHAR' THEN json_extract_string(j, '$')
    WHEN 'UBIGINT' THEN j::VARCHAR WHEN 'BIGINT' THEN j::VARCHAR END;

-- records.enum_value
CREATE OR REPLACE MACRO tj_enum_ok(j) AS tj_scalar_ok(
    CASE WHEN tj_type(j) = 'OBJECT' THEN json_extract(j, '$.value') ELSE j END);
CREATE OR REPLACE MACRO tj_enum(j) AS tj_text(
    CASE WHEN tj_type(j) = 'OBJECT' THEN json_extract(j, '$.value') ELSE j END);

-- records.money then tables.cents: exact for amounts of at most 15 digits and 2 decimals
CREATE OR REPLACE MACRO tj_money_ok(j) AS CASE tj_type(j)
    WHEN 'DOUBLE' THEN coalesce(abs(try_cast(j AS DOUBLE)) < 1e13
                                AND round(try_cast(j AS DOUBLE), 2) = try_cast(j AS DOUBLE), false)
    WHEN 'UBIGINT' THEN try_cast(j AS HUGEINT) < 1000000000000000
    WHEN 'BIGINT' THEN try_cast(j AS HUGEINT) > -1000000000000000
    WHEN 'VARCHAR' THEN tj_amount_text(tj_money_text(j))
    ELSE true END;
CREATE OR REPLACE MACRO tj_money(j) AS CASE
    WHEN tj_type(j) IN {_NUMBERS} THEN try_cast(j::VARCHAR AS DECIMAL(18, 2))
    WHEN tj_type(j) = 'VARCHAR' THEN try_cast(nullif(tj_money_text(j), '') AS DECIMAL(18, 2))
    END;

-- records.money as a float (weights): any finite JSON number or plain decimal text (both
-- sides round the decimal to the nearest double)
CREATE OR REPLACE MACRO tj_float_ok(j) AS CASE
    WHEN tj_type(j) IN {_NUMBERS} THEN coalesce(isfinite(try_cast(j AS DOUBLE)), false)
    WHEN tj_type(j) = 'VARCHAR' THEN tj_money_text(j) = ''
        OR regexp_full_match(tj_money_text(j), '[+-]?[0-9]{{1,300}}(\\.[0-9]{{1,300}})?')
    ELSE true END;
CREATE OR REPLACE MACRO tj_float(j) AS CASE
    WHEN tj_type(j) IN {_NUMBERS} THEN try_cast(j AS DOUBLE)
    WHEN tj_type(j) = 'VARCHAR' THEN try_cast(nullif(tj_money_text(j), '') AS DOUBLE) END;

-- records.integer, within [low, high] (the column's range)
CREATE OR REPLACE MACRO tj_integer_ok(j, low, high) AS CASE tj_type(j)
    WHEN 'UBIGINT' THEN try_cast(j AS HUGEINT) <= high
    WHEN 'BIGINT' THEN try_cast(j AS HUGEINT) >= low
    WHEN 'DOUBLE' THEN false
    WHEN 'VARCHAR' THEN regexp_full_match(tj_str(j), '[+-]?[0-9]{{1,9}}')
    ELSE true END;
CREATE OR REPLACE MACRO tj_integer(j) AS CASE
    WHEN tj_type(j) IN ('UBIGINT', 'BIGINT') THEN try_cast(j AS BIGINT)
    WHEN tj_type(j) = 'VARCHAR' THEN try_cast(tj_str(j) AS BIGINT) END;

-- records.boolean
CREATE OR REPLACE MACRO tj_boolean_ok(j) AS CASE tj_type(j)
    WHEN 'VARCHAR' THEN regexp_full_match(json_extract_string(j, '$'), '[\\x00-\\x7f]*')
    ELSE true END;
CREATE OR REPLACE MACRO tj_boolean(j) AS CASE tj_type(j)
    WHEN 'BOOLEAN' THEN j::BOOLEAN
    WHEN 'UBIGINT' THEN try_cast(j AS HUGEINT) <> 0
    WHEN 'BIGINT' THEN try_cast(j AS HUGEINT) <> 0
    WHEN 'VARCHAR' THEN CASE
        WHEN lower(tj_str(j)) IN ('1', 'true', 'yes') THEN true
        WHEN lower(tj_str(j)) IN ('0', 'false', 'no') THEN false END END;
"""

_ORDER_PATHS = (
    "order_id", "status", "payment_status", "payment_gateway", "total_amount", "coupon",
    "coupon_discounted", "customer.id", "customer.name", "customer.email", "customer.mobile",
    "name", "email", "phone", "country", "city", "transaction_id",
)  # fmt: skip
_ITEM_PATHS = (
    "product_id", "id", "name", "qty", "price", "discount", "tax", "subtotal", "weight",
    "type", "type_label", "options.is_booking", "is_booking", "options.product_options_cost",
)  # fmt: skip


def _paths(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'$.{name}'" for name in names) + "]"


def _fields(names: tuple[str, ...]) -> dict[str, str]:
    return {name: f"f[{n}]" for n, name in enumerate(names, start=1)}


_o = _fields(_ORDER_PATHS)
_i = _fields(_ITEM_PATHS)

_TEXTS = (
    "coupon", "customer.name", "customer.email", "customer.mobile", "name", "email", "phone",
    "country", "city", "transaction_id",
)  # fmt: skip

_ORDER_OK = " AND ".join(
    [
        f"tj_scalar_ok({_o['order_id']})",
        *(f"tj_enum_ok({_o[k]})" for k in ("status", "payment_status", "payment_gateway")),
        f"tj_money_ok({_o['total_amount']})",
        f"tj_money_ok({_o['coupon_discounted']})",
        f"tj_scalar_ok({_o['customer.id']})",
        *(f"tj_scalar_ok({_o[k]})" for k in _TEXTS),
    ]
)
_ITEM_OK = " AND ".join(
    [
        f"tj_scalar_ok({_i['product_id']})",
        f"tj_scalar_ok({_i['id']})",
        f"tj_scalar_ok(CASE WHEN tj_type({_i['name']}) = 'OBJECT' "
        f"THEN json_extract({_i['name']}, '$.en') ELSE {_i['name']} END)",
        f"tj_integer_ok({_i['qty']}, -9223372036854775808, 9223372036854775807)",
        f"tj_integer_ok({_i['type']}, -2147483648, 2147483647)",
        *(f"tj_money_ok({_i[k]})" for k in ("price", "discount", "tax", "subtotal")),
        f"tj_money_ok({_i['options.product_options_cost']})",
        f"tj_float_ok({_i['weight']})",
        f"tj_scalar_ok({_i['type_label']})",
        f"tj_boolean_ok({_i['options.is_booking']})",
        f"tj_boolean_ok({_i['is_booking']})",
    ]
)

# A batch of orders (the Arrow table ``spooled_orders``) as ``orders`` rows, plus ``ok``:
# false where Python must parse the order.
ORDERS_SQL = f"""
    SELECT $store AS store,
           identifier,
           tj_text({_o["order_id"]}) AS order_number,
           tj_enum({_o["status"]}) AS status,
           tj_enum({_o["payment_status"]}) AS payment_status,
           tj_enum({_o["payment_gateway"]}) AS payment_gateway,
           tj_money({_o["total_amount"]}) AS total_amount,
           tj_text({_o["coupon"]}) AS coupon,
           tj_money({_o["coupon_discounted"]}) AS coupon_discount,
           tj_id({_o["customer.id"]}) AS customer_id,
           coalesce(nullif(tj_text({_o["customer.name"]}), ''), tj_text({_o["name"]}))
               AS customer_name,
           coalesce(nullif(tj_text({_o["customer.email"]}), ''), tj_text({_o["email"]}))
               AS customer_email,
           coalesce(nullif(tj_text({_o["customer.mobile"]}), ''), tj_text({_o["phone"]}))
               AS customer_mobile,
           tj_text({_o["country"]}) AS country,
           tj_text({_o["city"]}) AS city,
           tj_text({_o["transaction_id"]}) AS transaction_id,
           line_count AS item_count,
           created_at,
           updated_at,
           order_date,
           $synced_at::TIMESTAMPTZ AS synced_at,
           raw,
           {_ORDER_OK} AS ok
    FROM (SELECT *, json_extract(raw, {_paths(_ORDER_PATHS)}) AS f
          FROM spooled_orders)
"""

# Their lines (the Arrow table ``spooled_lines``) as ``order_items`` rows, plus ``ok``.
ITEMS_SQL = f"""
    SELECT $store AS store,
           identifier AS order_identifier,
           line_number,
           coalesce(tj_id({_i["product_id"]}), tj_id({_i["id"]})) AS product_id,
           tj_text(CASE WHEN tj_type({_i["name"]}) = 'OBJECT'
                        THEN json_extract({_i["name"]}, '$.en') ELSE {_i["name"]} END) AS name,
           tj_integer({_i["qty"]}) AS qty,
           tj_money({_i["price"]}) AS price,
           tj_money({_i["discount"]}) AS discount,
           tj_money({_i["tax"]}) AS tax,
           tj_money({_i["subtotal"]}) AS subtotal,
           tj_money({_i["options.product_options_cost"]}) AS options_cost,
           tj_float({_i["weight"]}) AS weight,
           try_cast(tj_integer({_i["type"]}) AS INTEGER) AS type,
           tj_text({_i["type_label"]}) AS type_label,
           coalesce(tj_boolean({_i["options.is_booking"]}), false)
               OR coalesce(tj_boolean({_i["is_booking"]}), false) AS is_booking,
           order_date,
           raw,
           {_ITEM_OK} AS ok
    FROM (SELECT *, json_extract(raw, {_paths(_ITEM_PATHS)}) AS f FROM spooled_lines)
"""
