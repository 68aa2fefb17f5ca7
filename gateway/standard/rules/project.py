"""Project (志愿服务项目) rules: the project's dates and its posts' time windows."""

from __future__ import annotations

from typing import Iterator

from gateway.standard.issues import Issue, pointer
from gateway.standard.rules import RuleContext, rule
from gateway.standard.rules.common import parse_date, parse_local_datetime


@rule("project.end_after_start", "project")
def end_after_start(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A project ends on or after the day it starts (ends_on >= starts_on)."""
    if not isinstance(record, dict):
        return
    starts = parse_date(record.get("starts_on"))
    ends = parse_date(record.get("ends_on"))
    if starts is not None and ends is not None and ends < starts:
        yield Issue("/ends_on", "project.end_after_start",
                    "项目结束日期不能早于开始日期（starts_on）",
                    "ends_on must not be before starts_on")


@rule("project.post_window", "project")
def post_window(record: dict, ctx: RuleContext) -> Iterator[Issue]:
    """A post's time window ends after it starts (ends_at > starts_at) when both are given."""
    if not isinstance(record, dict):
        return
    posts = record.get("posts")
    if not isinstance(posts, list):
        return
    tz = ctx.tz
    for i, post in enumerate(posts):
        if not isinstance(post, dict):
            continue
        starts = parse_local_datetime(post.get("starts_at"), tz)
        ends = parse_local_datetime(post.get("ends_at"), tz)
        if starts is not None and ends is not None and ends <= starts:
            yield Issue(pointer("posts", i, "ends_at"), "project.post_window",
                        f"第 {i + 1} 个岗位的结束时间应晚于开始时间（starts_at）",
                        f"post {i + 1}: ends_at must be after starts_at")
