"""The console's languages: English and Simplified Chinese, chosen by the ``lang`` cookie
(the switch link sets it), else by the browser's ``Accept-Language``, else English."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("en", "zh-CN")
COOKIE = "dispatcher_lang"

# key: (English, 简体中文)
_TEXTS: dict[str, tuple[str, str]] = {
    "title": ("dispatcher console", "dispatcher 控制台"),
    "overview": ("Overview", "概览"),
    "case": ("Case", "案件"),
    "policy": ("Policy", "策略"),
    "simulate": ("Simulate", "模拟"),
    "log_out": ("Log out", "退出"),
    "log_in": ("Log in", "登录"),
    "token": ("API token", "API 令牌"),
    "login_intro": (
        "Log in with one of the API's bearer tokens ([[api.tokens]] in dispatcher.toml).",
        "使用 API 的持有者令牌登录（dispatcher.toml 中的 [[api.tokens]]）。",
    ),
    "login_failed": ("Unknown token.", "令牌无效。"),
    "login_no_read": (
        "This token lacks the scope read: it cannot use the console.",
        "该令牌没有 read 权限，无法使用控制台。",
    ),
    "no_tokens": ("No usable API token is configured", "未配置可用的 API 令牌"),
    "bad_form": (
        "The form had expired or came from elsewhere: try again.",
        "表单已过期或来源不明，请重试。",
    ),
    "signed_in_as": ("Token", "令牌"),
    "masked": ("personal data masked", "个人信息已遮蔽"),
    "unmasked": ("personal data shown", "显示个人信息"),
    "refreshed": ("refreshed", "已刷新"),
    "reminders_by_state": ("Reminders by state and channel", "按状态和渠道统计的提醒"),
    "state": ("state", "状态"),
    "total": ("total", "合计"),
    "due_now": ("due now", "当前到期"),
    "next_due": ("next due", "下次到期"),
    "none": ("none", "无"),
    "last_24h": (
        "Last 24 hours by channel (UTC hours)",
        "最近 24 小时（按渠道，UTC 小时）",
    ),
    "send": ("sends", "发送"),
    "defer": ("deferrals", "延后"),
    "suppress": ("suppressions", "抑制"),
    "pending_by_reason": ("Pending reminders by last reason", "按最近原因统计的待处理提醒"),
    "reason": ("reason", "原因"),
    "reminders": ("reminders", "提醒"),
    "failures_by_code": ("Failed attempts by code", "按错误码统计的失败尝试"),
    "arrangements_by_state": ("Arrangements by state", "按状态统计的还款安排"),
    "arrangements": ("arrangements", "还款安排"),
    "channel": ("channel", "渠道"),
    "code": ("code", "错误码"),
    "attempts": ("attempts", "尝试"),
    "attempt": ("attempt", "尝试"),
    "to": ("to", "发往"),
    "unknown_attempts": ("Attempts with unknown outcome", "结果未知的尝试"),
    "unknown_oldest": ("the oldest shown", "仅显示最早的"),
    "resolve": ("Resolve", "处理"),
    "resolution": ("resolution", "处理方式"),
    "res_sent": ("sent (the provider had it)", "已发送（服务商已收到）"),
    "res_not_sent": ("not sent (decide again)", "未发送（重新决策）"),
    "res_resend": ("resend", "重新发送"),
    "resolve_all_of": ("every unknown attempt on", "该渠道全部未知尝试："),
    "why": ("why (kept for audit)", "原因（记入审计）"),
    "resolved": ("attempts resolved", "条尝试已处理"),
    "needs_write": ("Resolving needs a token with scope write.", "处理需要具有 write 权限的令牌。"),
    "channels": ("Channels", "渠道"),
    "up": ("up", "正常"),
    "down": ("down", "故障"),
    "idle": ("idle", "空闲"),
    "idle_note": ("no attempt in the last hour", "最近一小时无尝试"),
    "channel_list": ("channels", "渠道"),
    "last_success": ("last success", "最近成功"),
    "last_failure": ("last failure", "最近失败"),
    "last_reload": ("Config", "配置"),
    "config_version": ("version in force", "当前版本"),
    "reload_result": ("last reload", "最近重新加载"),
    "accepted": ("accepted", "已接受"),
    "rejected": ("rejected (the old config keeps running)", "被拒绝（仍运行旧配置）"),
    "not_reloaded": ("not reloaded since start", "启动后未重新加载"),
    "problems": ("problems", "问题"),
    "nodes": ("Nodes holding claims", "持有认领的节点"),
    "node": ("node", "节点"),
    "claims": ("claims", "认领"),
    "renewed": ("renewed", "续期"),
    "case_lookup": ("Case or reminder id", "案件或提醒编号"),
    "look_up": ("Look up", "查询"),
    "no_case": ("No case or reminder", "未找到案件或提醒"),
    "person": ("person", "个人"),
    "contacts": ("contacts", "联系方式"),
    "opt_outs": ("opt-outs", "退订"),
    "consents": ("consents", "同意"),
    "wishes": ("The person's wishes", "本人的意愿"),
    "refused_channels": ("channels refused", "拒绝的渠道"),
    "contact_hours": ("contact hours", "联系时间"),
    "wished_language": ("language", "语言"),
    "as_on_file": ("as on file", "按档案"),
    "no_wishes": ("None: only the policy's rules apply.", "无：仅适用策略规则。"),
    "events": ("Events", "事件"),
    "upcoming": ("Upcoming reminders", "即将发送的提醒"),
    "timeline": ("Timeline (UTC)", "时间线（UTC）"),
    "when": ("when", "时间"),
    "reminder": ("reminder", "提醒"),
    "what": ("what", "事项"),
    "detail": ("detail", "详情"),
    "due": ("due (UTC)", "到期（UTC）"),
    "step": ("step", "步骤"),
    "template": ("template", "模板"),
    "kind": ("kind", "类型"),
    "source": ("source", "来源"),
    "rules": ("Effective rules", "生效规则"),
    "rule": ("rule", "规则"),
    "layer": ("layer", "来源层"),
    "settings": ("Settings", "设置"),
    "week_grid": ("Allowed hours in", "允许联系的时段，时区"),
    "zone": ("time zone", "时区"),
    "show": ("Show", "显示"),
    "always_open": ("no window rule: any hour", "无时间窗规则：任何时间"),
    "exempt": ("exempt from windows", "不受时间窗限制"),
    "bad_zone": ("Unknown time zone", "未知时区"),
    "days": ("Mon Tue Wed Thu Fri Sat Sun", "一 二 三 四 五 六 日"),
    "sim_intro": (
        "The planner and policy in virtual time over the store's cases: nothing is sent.",
        "在虚拟时间中对存储中的案件运行计划器和策略：不会发送任何消息。",
    ),
    "sim_days": ("days", "天数"),
    "sim_cases": ("case ids, comma-separated", "案件编号，以逗号分隔"),
    "sim_at_most": ("at most", "最多"),
    "sim_not_found": ("Not in the store (left out)", "存储中没有（已略过）"),
    "sim_breathing_space": (
        "In a breathing space, left out (no contact while it runs)",
        "处于喘息期，已略过（期间不联系）",
    ),
    "sim_busy": (
        "Another simulation is running: try again in a moment.",
        "另一个模拟正在运行，请稍后再试。",
    ),
    "sim_contacts": ("contacts", "次联系"),
    "sim_suppressed": ("suppressed or cancelled", "被抑制或取消"),
    "sim_closed": ("in a closed window", "在关闭时段内"),
    "sim_pending": ("still waiting at the end", "结束时仍在等待"),
    "sim_hours": ("Hour of day, person's local time", "一天中的小时（个人当地时间）"),
    "sim_hours_note": (
        "Bars: contacts in that hour. Shaded: the hours the channel's window allows "
        "(darker where more days of the week allow them).",
        "柱：该小时的联系次数。阴影：渠道时间窗允许的小时（一周中允许的天数越多，颜色越深）。",
    ),
    "sim_per_day": (
        "Contacts per day and channel (local date)",
        "按日期和渠道统计的联系（当地日期）",
    ),
    "sim_by_reason": ("Suppressed or cancelled, by reason", "按原因统计的抑制或取消"),
    "sim_per_jurisdiction": ("Contacts per jurisdiction", "按司法辖区统计的联系"),
    "sim_timeline": (
        "Timeline per case (local time of the person)",
        "各案件时间线（个人当地时间）",
    ),
    "sim_local": ("when (local)", "时间（当地）"),
    "sim_day": ("day", "日期"),
    "count": ("count", "数量"),
    "outcome": ("outcome", "结果"),
    "sim_against": (
        "Comparing with another config directory (--against) is done by the command: "
        "dispatcher simulate --against OLD_DIR.",
        "与另一个配置目录比较（--against）请使用命令：dispatcher simulate --against OLD_DIR。",
    ),
    "run": ("Run", "运行"),
    "not_found": ("Not found", "未找到"),
    "error": ("Something went wrong; see the daemon's log.", "出错了，请查看守护进程日志。"),
    "language": ("中文", "English"),
}


def choose(cookie: str | None, accept_language: str) -> str:
    """The language for a request: the cookie's if it names one, else the first of the
    browser's ``Accept-Language`` (by quality) that is Chinese or English, else English."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en") or tag == "*":
            return "en"
    return "en"


def other(language: str) -> str:
    """The language the switch link offers."""
    return "en" if language == "zh-CN" else "zh-CN"


def translator(
    language: str, texts: dict[str, tuple[str, str]] | None = None
) -> Callable[[str], str]:
    """``t(key)``: the text of ``key`` in ``language`` from ``texts`` (the console's by
    default; the key itself when unknown, so a missing text shows rather than fails)."""
    column = LANGUAGES.index(language)
    book = _TEXTS if texts is None else texts

    def t(key: str) -> str:
        texts = book.get(key)
        return texts[column] if texts else key

    return t
