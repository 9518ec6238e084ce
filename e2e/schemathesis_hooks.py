"""Serializers for the request bodies schemathesis has none for: the account import's JSON Lines
and CSV (POST /admin/users/import) are text; whatever was generated for them is sent as such
(a string as it is, anything else as its JSON), which is what the import must survive."""

import json

import schemathesis


@schemathesis.serializer("application/x-ndjson", "text/csv")
def text_body(ctx, value):
    if isinstance(value, bytes):
        return {"data": value}
    if isinstance(value, str):
        return {"data": value.encode("utf-8")}
    return {"data": json.dumps(value).encode("utf-8")}
