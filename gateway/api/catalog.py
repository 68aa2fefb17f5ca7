"""The published contract over HTTP: schemas, code tables and region look-up."""

from __future__ import annotations

from flask import abort
from flask.views import MethodView
from marshmallow import Schema, fields

import schemas
from gateway import standard
from gateway.api.common import Blueprint

blp = Blueprint("catalog", __name__, url_prefix="/api/v1",
                description="The standard's schemas, code tables and regions.")


class SchemaListSchema(Schema):
    versions = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "schema version -> the entities it publishes (and `batch`)"})


class CodeSchema(Schema):
    code = fields.String()
    label_zh = fields.String()


class CodeTableSchema(Schema):
    table = fields.String()
    codes = fields.List(fields.Nested(CodeSchema))


class RegionSchema(Schema):
    code = fields.String()
    name = fields.String()
    level = fields.Integer(metadata={"description": "1 province, 2 city, 3 county, 4 town"})


JSON_SCHEMA_DOCUMENT = {"type": "object", "description": "a JSON Schema (Draft 2020-12) document"}


@blp.route("/schemas")
class SchemaList(MethodView):
    @blp.response(200, SchemaListSchema)
    def get(self):
        """Published schema versions and the entities of each."""
        engine = standard.engine()
        return {"versions": {v: engine.entities(v) + ["batch"] for v in engine.versions}}


@blp.route("/schemas/<string:version>/<string:name>")
class SchemaDocument(MethodView):
    @blp.alt_response(200, schema=JSON_SCHEMA_DOCUMENT, success=True, description="OK")
    @blp.alt_response(404, description="No such schema (problem+json)")
    def get(self, version: str, name: str):
        """One JSON Schema document, as published in schemas/v<version>/."""
        if version not in schemas.SUPPORTED_VERSIONS or name not in schemas.schema_names(version):
            abort(404, f"no schema {name!r} in version {version!r}")
        return schemas.load_schema(version, name)


@blp.route("/codes/<string:table>")
class CodeTable(MethodView):
    @blp.response(200, CodeTableSchema)
    @blp.alt_response(404, description="No such code table (problem+json)")
    def get(self, table: str):
        """A code table as a list of ``{code, label_zh}``."""
        if not table.isidentifier() or not (schemas.ROOT / "codes" / f"{table}.csv").is_file():
            abort(404, f"no code table {table!r}")
        return {"table": table,
                "codes": [{"code": c, "label_zh": label} for c, label in schemas.code_table(table).items()]}


@blp.route("/regions/<string:code>")
class RegionLookup(MethodView):
    @blp.response(200, RegionSchema)
    @blp.alt_response(404, description="Not a current region code (problem+json)")
    def get(self, code: str):
        """The current region a code names (2–18 digits), with its level."""
        region = standard.engine().regions.lookup(code)
        if region is None:
            abort(404, f"{code!r} is not a current region code")
        return {"code": region.code, "name": region.name, "level": region.level}
