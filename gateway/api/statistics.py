"""``/api/v1/statistics/…``: counts of volunteers, teams, projects and effective hours.

Every answer is for one region inside the caller's scope (``region``; default the caller's
own region prefix, the whole country for an unscoped caller) and needs the
``statistics:read`` permission. See :mod:`gateway.services.statistics` for where the figures
come from, the drill-down and the age convention.
"""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from gateway.api.common import Blueprint, BEARER, REGION_PREFIX_PATTERN, service_context
from gateway.services import statistics

PROBLEMS = {401: "No valid credentials (problem+json)",
            403: "Region outside the caller's scope or no statistics:read permission (problem+json)",
            404: "Not a current province, city or county code (problem+json)",
            422: "Bad argument (problem+json)"}

blp = Blueprint("statistics", __name__, url_prefix="/api/v1/statistics", problems=PROBLEMS,
                description="Counts of volunteers, teams, projects and effective service hours "
                            "by region (drill-down), month, service category and age band.")


@blp.after_request
def _keep_folded(response):
    """Commit the pending aggregate deltas a read folded into the cells (the answer counted
    them either way; committed, the next read need not fold them again)."""
    session = g.get("store_session")
    if session is not None and response.status_code < 400:
        session.commit()
    return response


MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


# -- arguments -------------------------------------------------------------------------------------

class StatsRegionArgs(Schema):
    region = fields.String(
        load_default=None,
        validate=validate.Regexp(REGION_PREFIX_PATTERN, error="must be a 2, 4 or 6-digit region code"),
        metadata={"description": "Province (2 digits), city (4) or county (6) code; default: the "
                                 "caller's own region (the whole country for an unscoped caller). "
                                 "Breakdowns by region go one level down from it."})


class StatsMonthRangeArgs(Schema):
    month_from = fields.String(data_key="from", load_default=None,
                               validate=validate.Regexp(MONTH_PATTERN, error="must be YYYY-MM"),
                               metadata={"description": "First month included (YYYY-MM)"})
    month_to = fields.String(data_key="to", load_default=None,
                             validate=validate.Regexp(MONTH_PATTERN, error="must be YYYY-MM"),
                             metadata={"description": "Last month included (YYYY-MM)"})

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("month_from") and data.get("month_to") and data["month_from"] > data["month_to"]:
            raise ValidationError("must not be before 'from'", "to")


def _by(choices: tuple[str, ...], description: str) -> fields.String:
    return fields.String(load_default="region", validate=validate.OneOf(choices),
                         metadata={"description": description})


class StatsVolunteerArgs(StatsRegionArgs, StatsMonthRangeArgs):
    by = _by(statistics.VOLUNTEERS_BY,
             "Breakdown: region (one level down), age_band (national age bands by age reached "
             "in the current year: current year - birth year), month (of registration) or gender. "
             "from/to limit the registration month.")


class StatsHoursArgs(StatsRegionArgs, StatsMonthRangeArgs):
    by = _by(statistics.HOURS_BY,
             "Breakdown: region of the project (one level down), month of service or the "
             "project's service category. from/to limit the month of service.")


class StatsTeamArgs(StatsRegionArgs):
    by = _by(statistics.TEAMS_BY, "Breakdown: region (one level down) or team status.")


class StatsProjectArgs(StatsRegionArgs):
    by = _by(statistics.PROJECTS_BY, "Breakdown: region (one level down), project status or "
                                     "service category.")


# -- answers -----------------------------------------------------------------------------------------

class StatsAreaSchema(Schema):
    code = fields.String(allow_none=True, metadata={"description": "null for the whole country"})
    name = fields.String()
    level = fields.String(metadata={"description": "country, province, city or county"})


class StatsShareFields(Schema):
    population = fields.Integer(metadata={"description": "only where POPULATION_FILE has a figure"})
    share = fields.Float(metadata={"description": "volunteers / population, 6 decimals; only "
                                                  "where a population figure exists and no "
                                                  "from/to is given"})


class StatsItemSchema(Schema):
    code = fields.String(allow_none=True, metadata={
        "description": "region code, code-table code, YYYY-MM or age-band lower bound; null "
                       "for rows not known down to this level (or without a birth year)"})
    name = fields.String(allow_none=True, metadata={"description": "region name or code label"})


class StatsCountItemSchema(StatsItemSchema):
    count = fields.Integer()


class StatsVolunteerItemSchema(StatsCountItemSchema, StatsShareFields):
    pass


class StatsTeamItemSchema(StatsCountItemSchema):
    approved = fields.Integer(metadata={"description": "teams with status 1 (已审团体); by region only"})


class StatsHoursItemSchema(StatsItemSchema):
    hours = fields.Float(metadata={"description": "sum of effective hours, 2 decimals"})
    records = fields.Integer(metadata={"description": "number of effective service records"})


class StatsAnswer(Schema):
    region = fields.Nested(StatsAreaSchema)
    by = fields.String()


class StatsMonths(Schema):
    month_from = fields.String(data_key="from", attribute="from", allow_none=True,
                               metadata={"description": "as asked; absent when not limited"})
    month_to = fields.String(data_key="to", attribute="to", allow_none=True)


class StatsVolunteersAnswer(StatsAnswer, StatsMonths, StatsShareFields):
    reference_date = fields.Date(metadata={"description": "the day ages are reckoned at (age_band)"})
    count = fields.Integer(metadata={"description": "registered volunteers in the region"})
    items = fields.List(fields.Nested(StatsVolunteerItemSchema))


class StatsHoursAnswer(StatsAnswer, StatsMonths):
    hours = fields.Float()
    records = fields.Integer()
    items = fields.List(fields.Nested(StatsHoursItemSchema))


class StatsTeamsAnswer(StatsAnswer):
    count = fields.Integer(metadata={"description": "teams in any status"})
    approved = fields.Integer(metadata={"description": "approved teams (status 1)"})
    items = fields.List(fields.Nested(StatsTeamItemSchema))


class StatsProjectsAnswer(StatsAnswer):
    count = fields.Integer(metadata={"description": "projects in any status"})
    items = fields.List(fields.Nested(StatsCountItemSchema))


class StatsVolunteerTotal(StatsShareFields):
    count = fields.Integer()


class StatsTeamTotals(Schema):
    count = fields.Integer()
    approved = fields.Integer()
    by_status = fields.List(fields.Nested(StatsCountItemSchema))


class StatsProjectTotals(Schema):
    count = fields.Integer()
    by_status = fields.List(fields.Nested(StatsCountItemSchema))


class StatsHoursTotals(Schema):
    hours = fields.Float()
    records = fields.Integer()
    late_records = fields.Integer(metadata={
        "description": "effective records made more than RECORDING_DEADLINE_DAYS working days "
                       "after the activity ended (办法 2020 Art. 11)"})


class StatsOverviewAnswer(Schema):
    region = fields.Nested(StatsAreaSchema)
    reference_date = fields.Date()
    volunteers = fields.Nested(StatsVolunteerTotal)
    teams = fields.Nested(StatsTeamTotals)
    projects = fields.Nested(StatsProjectTotals)
    hours = fields.Nested(StatsHoursTotals)


# -- resources -----------------------------------------------------------------------------------

def _documented(view):
    """Every statistics operation: its problems, and a development token (BEARER)."""
    return blp.doc(security=BEARER)(blp.problems(*PROBLEMS)(view))


@blp.route("/overview")
class Overview(MethodView):
    @blp.arguments(StatsRegionArgs, location="query", as_kwargs=True)
    @blp.response(200, StatsOverviewAnswer)
    @_documented
    def get(self, region):
        """Totals for a region: volunteers (with share of population), teams, projects, hours."""
        return statistics.overview(service_context(), region)


@blp.route("/volunteers")
class Volunteers(MethodView):
    @blp.arguments(StatsVolunteerArgs, location="query", as_kwargs=True)
    @blp.response(200, StatsVolunteersAnswer)
    @_documented
    def get(self, region, by, month_from, month_to):
        """Registered volunteers by region, age band, registration month or gender."""
        return statistics.volunteers(service_context(), region, by, month_from, month_to)


@blp.route("/hours")
class Hours(MethodView):
    @blp.arguments(StatsHoursArgs, location="query", as_kwargs=True)
    @blp.response(200, StatsHoursAnswer)
    @_documented
    def get(self, region, by, month_from, month_to):
        """Effective service hours and records by region, month or service category."""
        return statistics.hours(service_context(), region, by, month_from, month_to)


@blp.route("/teams")
class Teams(MethodView):
    @blp.arguments(StatsTeamArgs, location="query", as_kwargs=True)
    @blp.response(200, StatsTeamsAnswer)
    @_documented
    def get(self, region, by):
        """Teams (every status, and how many approved) by region or status."""
        return statistics.teams(service_context(), region, by)


@blp.route("/projects")
class Projects(MethodView):
    @blp.arguments(StatsProjectArgs, location="query", as_kwargs=True)
    @blp.response(200, StatsProjectsAnswer)
    @_documented
    def get(self, region, by):
        """Projects (every status) by region, status or service category."""
        return statistics.projects(service_context(), region, by)
