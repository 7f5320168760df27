"""The words of a run's front page (``index.html``), in English and Chinese.

One table per language, the same keys in both (:data:`LABELS`, :data:`ACTION_TEXT`); the
page (:mod:`src.page.report`) takes every label from here, in the language of the job's
``report.language`` (:class:`~src.params.schema.ReportParams`). Labels with ``{name}`` are
filled in with ``str.format``; both languages use the same placeholders.

- :data:`LABELS`: headings, column names, sentences, status words, KPI names.
- :data:`ACTION_TEXT`: who a list of the default action rules holds and why, per action
  (list) name of every vocabulary (:mod:`src.vocabulary`); a list the params define
  otherwise is described by its rule's condition.
- :func:`feature_label` / :func:`driver_text`: a customer feature and a churn driver's
  change in words (the Chinese page; the English page uses the driver table's own sentence).
- :func:`duration_text`, :func:`when_text`, :func:`kpi_value`, :func:`kpi_change`: a
  duration, a time, a KPI and its change as people read them.
"""

from __future__ import annotations

import math
from typing import Literal

import pandas as pd

__all__ = ["ACTION_TEXT", "LABELS", "LANGUAGES", "Language", "driver_text", "duration_text",
           "feature_label", "kpi_change", "kpi_value", "labels", "when_text"]

Language = Literal["en", "zh"]

#: the languages of the page
LANGUAGES: tuple[str, ...] = ("en", "zh")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        # header
        "run": "Run {run_id}",
        "job": "job",
        "status": "status",
        "started": "started",
        "took": "took",
        "cutoff": "data up to",
        "minutes": "{m} min {s} s",
        "hours": "{h} h {m} min",
        "seconds": "{s} s",
        "status_succeeded": "succeeded",
        "status_failed": "failed",
        "status_running": "running",
        "status_pending": "pending",
        "status_skipped": "skipped",
        # failure
        "failed_heading": "The run failed",
        "failed_where": "{notebook}, cell {cell}",
        "failed_nothing": "Nothing was published: the lists were withdrawn and the champion "
                          "model stays where it was.",
        "withdrawn": "withdrawn because the run failed (not published): {files}",
        "report_error": "this part could not be shown ({error})",
        # KPIs
        "kpis_heading": "Headline KPIs",
        "kpi_col": "KPI",
        "kpi_now": "now",
        "kpi_last": "last run",
        "kpi_change": "change",
        "kpi_target": "target",
        "kpi_status": "status",
        "kpi_by": "{value} by {date}",
        "kpi_expected": "expected now",
        "kpi_first": "first run",
        "kpi_month": "month {month}",
        "kpi_none": "This job has no KPI step (07_kpis): add 07_kpis to the job's notebooks "
                    "to follow repeat rate, churn, NPS and CSAT against targets.",
        "kpi_not_written": "The KPI step (07_kpis) wrote no KPIs in this run ({status}).",
        "kpi_repeat_rate": "repeat rate",
        "kpi_churn_rate": "churn rate",
        "kpi_nps": "NPS",
        "kpi_csat": "CSAT",
        "kpi_active_customers": "active customers",
        "kpi_revenue_per_active": "revenue per active customer",
        "kpi_on_track": "on track",
        "kpi_behind": "behind",
        "kpi_no_target": "no target",
        "kpi_no_data": "no data",
        # lists
        "lists_heading": "Campaign lists",
        "lists_list": "list",
        "lists_who": "who and why",
        "lists_treated": "treated",
        "lists_control": "control",
        "lists_left_out": "not on the list",
        "lists_total": "total",
        "lists_note": "Treated: the customers in the list file. Control: customers held back "
                      "at random, never contacted, to measure what the list changed.",
        "lists_none": "No list was exported in this run.",
        "lists_failed": "No list was published: the run failed.",
        "left_suppressed": "{n} suppressed",
        "left_no_consent": "{n} without consent",
        "left_over_cap": "{n} over the cap",
        "rule": "rule",
        # campaign results
        "results_heading": "Results of earlier lists",
        "results_list": "list",
        "results_published": "published",
        "results_n": "treated / control",
        "results_uplift": "booking-rate uplift (95% interval)",
        "results_verdict": "verdict",
        "results_none": "No booking-rate result yet.",
        "results_window": "Lists published {published}; bookings counted until {until}.",
        "results_planted": "planted {value}",
        "verdict_raised": "raised bookings",
        "verdict_lowered": "lowered bookings",
        "verdict_no_measurable_effect": "no measurable effect",
        "verdict_too_small": "too small to measure",
        "points": "{value} pts",
        # churn drivers
        "drivers_heading": "Top churn drivers",
        "drivers_what": "what changes",
        "drivers_risk": "churn risk",
        "drivers_p": "p",
        "drivers_note": "Risk ×1.30: 30% more churn per unit of time; ×0.80: 20% less. "
                        "Significant drivers first, then by size of the effect.",
        "drivers_none": "No churn driver: the churn model has no covariates.",
        "driver_level": "{feature} = {level}",
        "driver_unknown": "{feature} unknown",
        "driver_flag": "{feature} (yes vs no)",
        "driver_days": "{n} more days of {feature}",
        "driver_share": "10 points more of {feature}",
        "driver_more": "{n} more {feature}",
        # champion
        "champion_heading": "Champion decision",
        "champion_check": "check",
        "champion_candidate": "candidate",
        "champion_champion": "champion",
        "champion_threshold": "threshold",
        "champion_passed": "passed",
        "champion_model": "{name} version {version}",
        "champion_version": "version {version}",
        "champion_unset": "unset",
        "champion_promoted": "{model} is now {alias} (was {was})",
        "champion_rejected": "{model} rejected by the gates; {alias} stays {was}",
        "champion_not_promoted": "{model} not promoted; {alias} stays {was}",
        "champion_rolled_back": "{model} promoted, then rolled back; {alias} is {was} again",
        "champion_pending": "{model} passed the gates; not promoted yet (the run did not "
                            "finish)",
        "champion_unjudged": "{model} registered, not judged",
        "champion_lists_from": "lists from {model}",
        # data quality
        "dq_heading": "Data quality",
        "dq_table": "table",
        "dq_read": "read",
        "dq_filtered": "filtered",
        "dq_merged": "lines merged",
        "dq_kept": "kept",
        "dq_rejected": "rejected",
        "dq_rejects_file": "rejected rows with their reason",
        "dq_none": "No row counts: the data step did not run.",
        "table_customers": "customers",
        "table_bookings": "bookings",
        "table_interactions": "interactions",
        "table_feedback": "feedback",
        "warnings_heading": "Warnings about the input",
        "warning_fix": "fix",
        # notebooks and files
        "notebooks_heading": "Notebook reports",
        "nb_notebook": "notebook",
        "nb_status": "status",
        "nb_seconds": "seconds",
        "nb_peak": "peak MB",
        "files_heading": "Files",
        "files_exports": "exports",
        "files_records": "records of the run",
        "none": "none",
    },
    "zh": {
        "run": "运行 {run_id}",
        "job": "任务",
        "status": "状态",
        "started": "开始于",
        "took": "用时",
        "cutoff": "数据截至",
        "minutes": "{m} 分 {s} 秒",
        "hours": "{h} 小时 {m} 分",
        "seconds": "{s} 秒",
        "status_succeeded": "成功",
        "status_failed": "失败",
        "status_running": "运行中",
        "status_pending": "等待中",
        "status_skipped": "已跳过",
        "failed_heading": "本次运行失败",
        "failed_where": "{notebook}，第 {cell} 个单元格",
        "failed_nothing": "未发布任何内容：名单已撤回，冠军模型保持不变。",
        "withdrawn": "因运行失败已撤回（未发布）：{files}",
        "report_error": "此部分无法显示（{error}）",
        "kpis_heading": "核心指标",
        "kpi_col": "指标",
        "kpi_now": "当前",
        "kpi_last": "上次运行",
        "kpi_change": "变化",
        "kpi_target": "目标",
        "kpi_status": "进度",
        "kpi_by": "{date} 前达到 {value}",
        "kpi_expected": "目前应达",
        "kpi_first": "首次运行",
        "kpi_month": "{month} 月度",
        "kpi_none": "本任务没有 KPI 步骤（07_kpis）：在任务的 notebooks 中加入 07_kpis，"
                    "即可对照目标跟踪复购率、流失率、NPS 和 CSAT。",
        "kpi_not_written": "KPI 步骤（07_kpis）本次未生成指标（{status}）。",
        "kpi_repeat_rate": "复购率",
        "kpi_churn_rate": "流失率",
        "kpi_nps": "净推荐值（NPS）",
        "kpi_csat": "满意度（CSAT）",
        "kpi_active_customers": "活跃客户数",
        "kpi_revenue_per_active": "活跃客户人均收入",
        "kpi_on_track": "按计划",
        "kpi_behind": "落后",
        "kpi_no_target": "未设目标",
        "kpi_no_data": "无数据",
        "lists_heading": "营销名单",
        "lists_list": "名单",
        "lists_who": "对象与原因",
        "lists_treated": "触达组",
        "lists_control": "对照组",
        "lists_left_out": "未入名单",
        "lists_total": "合计",
        "lists_note": "触达组：名单文件中的客户。对照组：随机保留、不予联系的客户，"
                      "用于衡量名单带来的效果。",
        "lists_none": "本次运行未导出名单。",
        "lists_failed": "运行失败，未发布名单。",
        "left_suppressed": "屏蔽 {n}",
        "left_no_consent": "未授权联系 {n}",
        "left_over_cap": "超出上限 {n}",
        "rule": "规则",
        "results_heading": "往期名单效果",
        "results_list": "名单",
        "results_published": "发布",
        "results_n": "触达 / 对照",
        "results_uplift": "预订率提升（95% 区间）",
        "results_verdict": "结论",
        "results_none": "暂无预订率结果。",
        "results_window": "名单发布于 {published}；预订统计至 {until}。",
        "results_planted": "预设 {value}",
        "verdict_raised": "提升了预订",
        "verdict_lowered": "降低了预订",
        "verdict_no_measurable_effect": "无可测量的效果",
        "verdict_too_small": "样本太小，无法衡量",
        "points": "{value} 个百分点",
        "drivers_heading": "主要流失驱动因素",
        "drivers_what": "变化",
        "drivers_risk": "流失风险",
        "drivers_p": "p 值",
        "drivers_note": "风险 ×1.30：单位时间内流失多 30%；×0.80：少 20%。"
                        "显著的因素在前，再按效应大小排序。",
        "drivers_none": "没有流失驱动因素：流失模型未使用协变量。",
        "driver_level": "{feature} = {level}",
        "driver_unknown": "{feature} 未知",
        "driver_flag": "{feature}（是 vs 否）",
        "driver_days": "{feature} 每增加 {n} 天",
        "driver_share": "{feature} 每增加 10 个百分点",
        "driver_more": "{feature} 每增加 {n}",
        "champion_heading": "冠军模型决定",
        "champion_check": "检查项",
        "champion_candidate": "候选模型",
        "champion_champion": "冠军模型",
        "champion_threshold": "门槛",
        "champion_passed": "通过",
        "champion_model": "{name} 版本 {version}",
        "champion_version": "版本 {version}",
        "champion_unset": "未设置",
        "champion_promoted": "{model} 已成为 {alias}（之前：{was}）",
        "champion_rejected": "{model} 未通过门槛；{alias} 仍为 {was}",
        "champion_not_promoted": "{model} 未晋升；{alias} 仍为 {was}",
        "champion_rolled_back": "{model} 曾晋升，后已回滚；{alias} 恢复为 {was}",
        "champion_pending": "{model} 已通过门槛；尚未晋升（运行未完成）",
        "champion_unjudged": "{model} 已注册，未评判",
        "champion_lists_from": "名单来自 {model}",
        "dq_heading": "数据质量",
        "dq_table": "数据表",
        "dq_read": "读取",
        "dq_filtered": "过滤",
        "dq_merged": "合并行",
        "dq_kept": "保留",
        "dq_rejected": "拒绝",
        "dq_rejects_file": "被拒绝的行及原因",
        "dq_none": "没有行数记录：数据步骤未运行。",
        "table_customers": "客户",
        "table_bookings": "预订",
        "table_interactions": "互动",
        "table_feedback": "反馈",
        "warnings_heading": "输入数据警告",
        "warning_fix": "修正方法",
        "notebooks_heading": "各步骤报告",
        "nb_notebook": "步骤",
        "nb_status": "状态",
        "nb_seconds": "秒",
        "nb_peak": "内存峰值 MB",
        "files_heading": "文件",
        "files_exports": "导出文件",
        "files_records": "运行记录",
        "none": "无",
    },
}
"""Page label key -> text, per language (the same keys and placeholders in each)."""

ACTION_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "do_not_contact": "No consent on any contact channel: never contacted.",
        "service_recovery": "Complained in the last 90 days: fix the service first, no "
                            "promotion.",
        "member_win_back": "Loyalty members who cancelled: a win-back offer.",
        "win_back_call": "High-value customers (most valuable or major tier) who lapsed or are "
                         "likely to churn within a year: a personal call.",
        "vip_care": "Most valuable customers unlikely to churn (under 30% within a year): VIP "
                    "care and upgrades.",
        "second_trip_offer": "Active one-trip customers who were satisfied (CSAT 4+ or NPS "
                             "9+): an offer for their second trip.",
        "second_order_offer": "Active one-order customers who were satisfied (CSAT 4+ or NPS "
                              "9+): an offer for their second order.",
        "renewal_offer": "Active first-time subscribers who were satisfied (CSAT 4+ or NPS "
                         "9+): a renewal offer.",
        "reactivation": "Customers in the lapsed or at-risk stage: a reactivation offer.",
        "nurture": "Everyone else who may be contacted: regular news and inspiration.",
    },
    "zh": {
        "do_not_contact": "未授权任何联系渠道：不予联系。",
        "service_recovery": "近 90 天内有投诉：先解决服务问题，不做促销。",
        "member_win_back": "已取消的会员：提供挽回优惠。",
        "win_back_call": "高价值客户（最有价值或主要层级）已流失或一年内可能流失：专人致电挽回。",
        "vip_care": "最有价值且不太可能流失的客户（一年内流失概率低于 30%）：VIP 关怀与升级。",
        "second_trip_offer": "仅出行过一次、且满意（CSAT ≥ 4 或 NPS ≥ 9）的活跃客户：第二次出行优惠。",
        "second_order_offer": "仅下单过一次、且满意（CSAT ≥ 4 或 NPS ≥ 9）的活跃客户：第二单优惠。",
        "renewal_offer": "首次订阅、且满意（CSAT ≥ 4 或 NPS ≥ 9）的活跃订阅用户：续订优惠。",
        "reactivation": "处于已流失或有流失风险阶段的客户：唤醒优惠。",
        "nurture": "其余可联系的客户：定期资讯与灵感推送。",
    },
}
"""Action (list) name of the default rules -> who the list holds and why, per language."""

#: customer features (churn-driver sources) in Chinese; see :func:`feature_label`
_FEATURES_ZH: dict[str, str] = {
    "n_bookings": "完成预订数", "n_cancelled": "取消预订数", "n_no_show": "未出行次数",
    "n_upcoming_trips": "待出行行程数", "recency_days": "距上次预订天数",
    "tenure_days": "客户时长", "active_span_days": "活跃跨度", "frequency": "复购次数",
    "avg_days_between_bookings": "平均预订间隔", "monetary_total": "累计消费",
    "monetary_mean": "每单平均消费", "lead_time_days_mean": "平均提前预订天数",
    "party_size_mean": "平均同行人数", "nights_mean": "平均晚数",
    "csat_mean": "平均满意度（CSAT）", "nps_mean": "平均推荐意愿（NPS）",
    "first_trip_csat": "首次出行满意度", "first_trip_low_csat": "首次出行满意度低（1-2 分）",
    "customer_type": "客户类型", "acquisition_channel": "获客渠道",
    "membership_cancelled": "会员已取消", "loyalty_member": "会员", "member_tier": "会员等级",
    "home_region": "所在地区", "gender": "性别", "age": "年龄", "birth_year": "出生年份",
    "value_tier": "价值层级", "segment": "客群",
}
_PREFIXES_ZH: dict[str, str] = {
    "complaints_": "{x}投诉次数", "first_trip_complaint_": "首次出行{x}投诉",
    "product_": "产品占比：{x}", "dest_": "目的地类型占比：{x}", "channel_": "预订渠道占比：{x}",
}
_WORDS_ZH: dict[str, str] = {
    "service": "服务", "product": "产品", "price": "价格", "competitor": "竞争对手",
    "moved": "搬迁", "other": "其他", "total": "", "hotel": "酒店", "flight": "机票",
    "package": "套餐", "tour": "跟团游", "ticket": "门票", "business_travel": "商旅",
    "nature": "自然", "culture": "文化", "beach": "海滩", "city": "城市", "app": "App",
    "web": "网站", "call_center": "呼叫中心", "ota": "OTA", "store": "门店",
}


def labels(language: str) -> dict[str, str]:
    """The page labels of ``language`` (``en`` or ``zh``).

    Raises
    ------
    ValueError
        Another language; the message names the ones there are.
    """
    if language not in LABELS:
        raise ValueError(f"report.language {language!r} has no page labels; choose one of "
                         f"{list(LANGUAGES)}")
    return LABELS[language]


def feature_label(name: str, language: str) -> str:
    """A customer feature as people read it: in Chinese for ``zh`` (prefix families such as
    ``complaints_service`` or ``dest_beach`` worded too; an unknown feature keeps its name),
    the name with spaces for ``en``."""
    if language != "zh":
        return name.replace("_", " ")
    if name in _FEATURES_ZH:
        return _FEATURES_ZH[name]
    for prefix, pattern in _PREFIXES_ZH.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix):]
            return pattern.format(x=_WORDS_ZH.get(rest, rest))
    return name


#: binary driver covariates (a yes/no, not a count)
_FLAGS = ("loyalty_member", "membership_cancelled", "first_trip_low_csat", "repeat_customer")


def driver_text(covariate: str, source: str, per: float, language: str) -> str:
    """What a churn driver's hazard ratio is per, in words: ``customer_type=corporate`` (a
    level), ``csat_mean_missing`` (unknown), a yes/no flag, ``per`` more days / points of a
    share / units of a feature (``per``: the driver table's increment)."""
    text = labels(language)
    n = f"{per:,g}" if math.isfinite(per) else "1"
    if "=" in covariate:
        col, level = covariate.split("=", 1)
        return text["driver_level"].format(feature=feature_label(col, language), level=level)
    missing = covariate == f"{source}_missing"
    feature = feature_label(source if missing else covariate, language)
    if missing:
        key = "driver_unknown"
    elif covariate in _FLAGS or covariate.startswith("first_trip_complaint_"):
        key = "driver_flag"
    elif covariate.endswith("_days"):
        key = "driver_days"
    elif per == 0.1 and covariate.startswith(("product_", "dest_", "channel_")):
        key = "driver_share"
    else:
        key = "driver_more"
    return text[key].format(feature=feature, n=n)


def duration_text(seconds: float, language: str) -> str:
    """A duration as people read it: ``42 s``, ``1 min 7 s``, ``2 h 5 min`` (or in Chinese)."""
    text, s = labels(language), int(round(seconds))
    if s < 60:
        return text["seconds"].format(s=s)
    if s < 3600:
        return text["minutes"].format(m=s // 60, s=s % 60)
    return text["hours"].format(h=s // 3600, m=s % 3600 // 60)


def when_text(iso: str) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` (``UTC`` added when it is in UTC); text that is
    not a time is returned as it is."""
    try:
        t = pd.Timestamp(iso)
    except ValueError:
        return iso
    utc = t.tzinfo is not None and t.utcoffset() == pd.Timedelta(0)
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if utc else "")


#: how each KPI's values read: a share in 0-1 (shown in %), a score, a count, money
_KPI_KIND = {"repeat_rate": "share", "churn_rate": "share", "nps": "score", "csat": "score",
             "active_customers": "count", "revenue_per_active": "money"}


def kpi_value(kpi: str, value: float) -> str:
    """A KPI's value as people read it: shares in %, counts and money with thousands
    separators, scores with two decimals (one from 10 up); ``–`` when unknown."""
    kind = _KPI_KIND.get(kpi, "score")
    if not math.isfinite(value):
        return "–"
    if kind == "share":
        return f"{100 * value:.1f}%"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "money":
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.1f}"


def kpi_change(kpi: str, current: float, last: float, language: str) -> str:
    """The change of a KPI since the last run: shares in percentage points, scores in their
    own points, counts and money in % of the last value."""
    kind, delta = _KPI_KIND.get(kpi, "score"), current - last
    if kind == "share":
        return labels(language)["points"].format(value=f"{100 * delta:+.1f}")
    if kind == "score":
        return f"{delta:+.2f}" if abs(last) < 10 else f"{delta:+.1f}"
    if last == 0:
        return f"{delta:+,.0f}"
    return f"{100 * delta / abs(last):+.1f}%"
