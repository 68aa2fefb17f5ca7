"""The console's message catalogue: English keys, Chinese text; Chinese is shown first.

Templates write ``{{ _("Dead letters") }}``; :func:`_` answers the Chinese text when the
session's language is ``zh`` (the default, CONSOLE_LANGUAGE) and the key itself in English.
A test checks that every key used in the templates has its Chinese text here.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, redirect, request, session, url_for

from gateway.console import bp

LANGUAGES = ("zh", "en")

ZH: dict[str, str] = {
    # layout and login
    "Volunteer-service data exchange gateway": "志愿服务数据交换网关",
    "Console": "管理控制台",
    "Overview": "概览", "Sources": "数据源", "Dead letters": "死信", "Message log": "报文日志",
    "Data quality": "数据质量", "Clients and keys": "客户端与密钥", "Alerts": "告警",
    "Audit trail": "审计记录", "Log out": "退出", "Log in": "登录", "User name": "用户名",
    "Password": "密码", "One-time code (if enabled)": "动态验证码（如已启用）",
    "Logged out.": "已退出。",
    "Wrong user name, password or code, or the account is locked.":
        "用户名、密码或验证码错误，或账号已被锁定。",
    "Too many attempts from this address. Wait a minute and try again.":
        "该地址尝试次数过多，请稍候一分钟再试。",
    "The form's security token is missing or expired. Reload the page and try again.":
        "表单安全令牌缺失或已过期，请刷新页面后重试。",
    "You may not do this.": "您没有执行此操作的权限。", "Not found.": "未找到。",
    "Error": "错误", "Back": "返回", "Region": "区域", "whole country": "全国", "Roles": "角色",
    "viewer": "查看者", "operator": "操作员", "key_manager": "密钥管理员",
    # overview
    "Worst first": "问题最多的排在前面", "Source": "数据源", "State": "状态", "Last run": "最近运行",
    "Last success": "最近成功", "Lag": "滞后", "Failure streak": "连续失败",
    "Pending": "待处理", "Inbound clients": "接入客户端", "Client": "客户端",
    "Last push": "最近推送", "Records today": "今日记录", "Rejected today": "今日拒收",
    "Totals": "合计", "Records in": "接收记录", "Records out": "发送记录", "Rejected": "拒收",
    "Last 24 hours": "最近24小时", "Last 7 days": "最近7天", "Records per hour": "每小时记录数",
    "active": "启用", "paused": "已暂停", "FLAGGED": "已标记", "never": "从未",
    "caught up": "已追平", "Firing alerts": "正在告警", "none": "无",
    "sources": "个数据源", "flagged": "已标记", "dead letters": "条死信",
    # source
    "Run timeline": "运行时间线", "Run": "运行", "Trigger": "触发", "Status": "状态",
    "Started": "开始", "Duration": "耗时", "Pages": "页数", "Read": "读取", "Written": "写入",
    "Dead-lettered": "转入死信", "Skipped": "未发送", "Errors": "错误", "Cursor": "游标", "Settings": "设置",
    "secrets masked": "密钥已隐藏", "Run now": "立即运行", "Pause": "暂停", "Resume": "恢复",
    "Check connection": "检查连接", "Adapter": "适配器", "Direction": "方向",
    "Entities": "实体", "Schedule": "计划", "Scope": "范围", "Run durations": "运行耗时",
    "Run started in process": "已在进程中启动运行", "Paused.": "已暂停。",
    "Resumed.": "已恢复。", "Connection OK": "连接正常", "Connection failed": "连接失败",
    "Run this source now?": "立即运行此数据源？", "Pause this source?": "暂停此数据源？",
    "Resume this source?": "恢复此数据源？", "running": "运行中", "succeeded": "成功",
    "partial": "部分成功", "failed": "失败", "interrupted": "已中断", "Reason": "原因",
    "This page updates itself while a run is running.": "有运行进行中时本页自动刷新。",
    # dead letters
    "Entity": "实体", "Rule": "规则", "From": "从", "To": "至", "Filter": "筛选",
    "Attempts": "尝试次数", "Record key": "记录标识", "Created": "创建时间",
    "Replay selected": "重放所选", "Discard selected": "丢弃所选",
    "Replay all matching": "重放全部匹配项", "Payload (personal data masked)": "报文（个人信息已脱敏）",
    "Replay this dead letter?": "重放这条死信？", "Discard this dead letter?": "丢弃这条死信？",
    "Replay the selected dead letters?": "重放所选死信？",
    "Discard the selected dead letters?": "丢弃所选死信？",
    "Replay every pending dead letter that matches the filter?": "重放所有符合筛选条件的待处理死信？",
    "Replay": "重放", "Discard": "丢弃", "replayed": "已重放", "discarded": "已丢弃",
    "pending": "待处理", "any": "全部", "Replayed": "已重放", "still failing": "仍然失败",
    "busy, try again": "正在运行，请稍后再试", "Discarded": "已丢弃", "Select": "选择",
    "No dead letters match.": "没有符合条件的死信。",
    # message log
    "Batch id": "批次号", "Sender": "发送方", "Outcome": "结果", "Received": "接收时间",
    "Search": "搜索", "Verify evidence": "重新验证证据", "Download evidence": "下载证据",
    "VERIFIED": "验证通过", "FAILED": "验证失败", "Key id": "密钥标识", "Digest": "摘要",
    "Bytes": "字节", "in": "接收", "out": "发送", "Summary": "摘要信息", "Problems": "问题",
    # a run's direction and trigger, shown from the data (sync_jobs: direction, trigger)
    "pull": "拉取", "push": "推送", "manual": "手动", "schedule": "定时", "replay": "重放",
    "Signature": "签名", "Body": "报文体", "No entries match.": "没有符合条件的记录。",
    # data quality
    "Rules that reject most": "拒收最多的规则", "Examples (masked)": "示例（已脱敏）",
    "Count": "数量", "Per source": "按数据源", "Per client": "按客户端", "Days": "天数",
    "Rejections by rule": "按规则统计拒收", "Field": "字段", "Message": "说明",
    "Rejections per day by rule, last 30 days": "近30天每日按规则统计拒收",
    "Rules that reject most, days": "拒收最多的规则，统计天数", "other": "其他",
    # accounts
    "Accounts": "账号管理", "region": "区域", "Account added": "账号已添加",
    "Password reset": "密码已重置", "Its password, shown once": "其密码（仅显示这一次）",
    "Last login": "最近登录", "on": "已启用", "off": "未启用", "locked": "已锁定",
    "Enable this account?": "启用此账号？",
    "Disable this account? Its sessions end at once.": "停用此账号？其会话将立即结束。",
    "Reset password": "重置密码",
    "Give this account a new password? Its sessions end.": "为此账号设置新密码？其会话将结束。",
    "Change roles": "修改角色", "Save": "保存", "My account": "我的账号", "Add account": "添加账号",
    "Region prefix (inside yours)": "区域前缀（不超出您的区域）",
    "A password is made up and shown once; give it to the person, who changes it under My account.":
        "系统生成密码并只显示一次；请交给使用者，由其在“我的账号”中修改。",
    "Change password": "修改密码", "Current password": "当前密码", "New password": "新密码",
    "New password again": "再次输入新密码", "Second factor (TOTP)": "第二因素（TOTP 动态验证码）",
    "Remove the second factor": "移除第二因素",
    "Scan the code with an authenticator app, or type the secret, then enter the code it shows.":
        "用身份验证器应用扫描二维码或输入密钥，然后填写其显示的验证码。",
    "Code": "验证码", "Turn on": "启用", "Set up a second factor": "设置第二因素",
    "The two new passwords differ.": "两次输入的新密码不一致。",
    "Password changed; your other sessions are logged out.": "密码已修改；您的其他会话已退出。",
    "Start the enrolment first.": "请先开始设置。",
    "Second factor on: the next login asks for a code.": "第二因素已启用：下次登录需要验证码。",
    "Second factor removed.": "第二因素已移除。",
    # editing a source
    "Edit source": "编辑数据源", "Schedule and scope": "计划与范围",
    "'every N s|m|h|d' or a five-field cron line; empty: by hand only.":
        "“every N s|m|h|d” 或五段式 cron 表达式；留空：仅手动运行。",
    "Region prefix": "区域前缀", "Teams (comma-separated; empty: all)": "队伍编号（逗号分隔；留空：全部）",
    "Adapter settings": "适配器设置",
    "unchanged (hidden); type a new value to replace it": "不变（已隐藏）；输入新值以替换",
    "An empty field drops the setting (the adapter's default applies); an empty secret keeps the stored one. The adapter checks the settings against its own schema.":
        "留空的字段将删除该设置（使用适配器默认值）；留空的密钥字段保留原值。适配器按其自身的配置模式校验设置。",
    "nothing changed": "无变化", "Edit": "编辑",
    # clients and keys
    "Name": "名称", "Kind": "类型", "Permissions": "权限", "Personal data": "个人信息",
    "Keys": "密钥", "Algorithm": "算法", "Last use": "最近使用", "Revoke": "吊销",
    "Rotate": "轮换", "Add key": "添加密钥", "Disable client": "停用客户端",
    "Public key (PEM or JWK)": "公钥（PEM 或 JWK）", "Key id (optional)": "密钥标识（可选）",
    "Revoke the old key now": "立即吊销旧密钥", "disabled": "已停用", "revoked": "已吊销",
    "Revoke this key? Requests signed with it are refused at once.":
        "吊销此密钥？用它签名的请求将立即被拒绝。",
    "Disable this client? Every request from it is refused.": "停用此客户端？其所有请求都将被拒绝。",
    "Key added": "密钥已添加", "Key revoked": "密钥已吊销", "Client disabled": "客户端已停用",
    "Key rotated": "密钥已轮换", "full": "完整", "masked": "脱敏",
    # alerts
    "Rules": "规则", "Threshold": "阈值", "Subjects starting with": "对象名前缀",
    "Webhook URL": "Webhook 地址", "E-mail to": "邮件收件人", "Add rule": "添加规则",
    "Enabled": "启用", "Silenced until": "静默至", "Silence 1 hour": "静默1小时",
    "Silence 1 day": "静默1天", "Unsilence": "取消静默", "Acknowledge": "确认", "Enable": "启用",
    "Disable": "停用", "Delete rule": "删除规则", "Subject": "对象", "Since": "开始于",
    "Deliveries": "投递", "acknowledged": "已确认", "firing": "告警中", "resolved": "已解除",
    "lag": "滞后超限", "failure_streak": "连续失败", "stale": "长时间无成功",
    "rejection_rate": "拒收率", "key_unused": "密钥未使用",
    "lag: seconds; failure streak: runs; stale: seconds without success; rejection rate: percent; key unused: days":
        "滞后：秒；连续失败：次；长时间无成功：秒；拒收率：百分比；密钥未使用：天",
    "Rule added": "规则已添加", "Acknowledged": "已确认", "Saved": "已保存",
    "Delete this rule and its alerts?": "删除此规则及其告警？",
    "Alerts are evaluated by the scheduler process (vgw scheduler).":
        "告警由调度进程（vgw scheduler）评估。",
    # audit
    "When": "时间", "Who": "操作人", "What": "操作", "Target": "对象", "From where": "来源地址",
    "Details": "详情", "The audit trail cannot be edited.": "审计记录不可修改。",
    "Language": "语言", "Refresh": "刷新",
}


def language() -> str:
    if not has_request_context():
        return "zh"
    lang = g.get("lang")
    if lang is None:
        lang = session.get("lang") or request.cookies.get("vgw_lang") or \
            current_app.config["CONSOLE_LANGUAGE"]
        g.lang = lang if lang in LANGUAGES else "zh"
    return g.lang


def _(key: str) -> str:
    return ZH.get(key, key) if language() == "zh" else key


def language_route(code: str):
    target = request.args.get("next") or url_for("console.overview")
    if not target.startswith("/console") or target.startswith("//"):
        target = url_for("console.overview")
    response = redirect(target)
    if code in LANGUAGES:
        session["lang"] = code
        response.set_cookie("vgw_lang", code, max_age=365 * 86400, path="/console",
                            samesite="Lax", httponly=True,
                            secure=current_app.config["CONSOLE_COOKIE_SECURE"])
    return response


bp.add_url_rule("/lang/<code>", "language", language_route)


@bp.context_processor
def _inject():
    return {"_": _, "lang": language()}


def init_app(app: Flask) -> None:
    """``_`` for macros imported without context too (they do not see context processors)."""
    app.jinja_env.globals.setdefault("_", _)
