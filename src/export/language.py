"""Column headers of the exported CSV lists in the job's report language (``report.language``).

Marketing teams in China open the lists in a spreadsheet: with ``report.language: zh`` the
CSV files carry Chinese headers (:func:`csv_headers`); the Parquet files, the scored table's
schema and ``export.columns`` keep the stable column names. Every scored column has a header
(:func:`src.decisioning.scored_columns.output_schema`), the column templates included
(``churn_prob_{h}d`` for any horizon, ``consent_{channel}``, ``suggested_{kind}`` and
``suggested_{kind}_lift`` for any item kind), and so do the list-only columns (``channel``,
``suppressed``, hashed and plain contact data) and the vocabulary's names of the suggestion
columns (``suggested_category``, ``suggested_plan``). A column without a Chinese header keeps
its name.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CSV_LANGUAGES", "ZH_HEADERS", "csv_headers"]

#: the languages of the CSV headers
CSV_LANGUAGES: tuple[str, ...] = ("en", "zh")

ZH_HEADERS: dict[str, str] = {
    # who, and how to reach them
    "customer_id": "客户编号",
    "channel": "联系渠道",
    "preferred_channel": "首选联系渠道",
    "suppressed": "已屏蔽",
    "name": "姓名",
    "email": "电子邮箱",
    "phone": "电话",
    "email_sha256": "电子邮箱（SHA-256）",
    "phone_sha256": "电话（SHA-256）",
    "cutoff_date": "数据截止日",
    # segments and value
    "segment": "客群",
    "cluster": "客群编号",
    "rfm_segment": "RFM 分群",
    "r_score": "最近消费评分（R）",
    "f_score": "消费频次评分（F）",
    "m_score": "消费金额评分（M）",
    "value_tier": "价值层级",
    "lifecycle_stage": "生命周期阶段",
    "churn_status": "流失状态",
    # churn and lifetime value
    "expected_remaining_days": "预计剩余客户时长（天）",
    "median_remaining_days": "剩余客户时长中位数（天）",
    "p_alive": "存活概率",
    "expected_bookings": "预计预订次数",
    "clv": "客户终身价值",
    "clv_horizon_days": "终身价值期限（天）",
    "expected_avg_booking_value": "预计每单金额",
    "avg_booking_value": "平均每单金额",
    "avg_days_between_bookings": "平均预订间隔（天）",
    "expected_days_to_next_booking": "预计距下次预订天数",
    "expected_next_booking_date": "预计下次预订日期",
    "n_bookings": "完成预订数",
    "repeat_customer": "复购客户",
    # loyalty and satisfaction
    "member_tier": "会员等级",
    "loyalty_member": "会员",
    "csat_mean": "平均满意度（CSAT）",
    "nps_mean": "平均推荐意愿（NPS）",
    "nps_group": "NPS 分组",
    # what to do
    "recommended_action": "推荐行动",
    "insufficient_history": "历史数据不足",
    "insufficient_history_reason": "历史数据不足原因",
}
"""Column -> Chinese header, for the columns that are not templates."""

#: item kinds of the suggestion columns (stable names and the vocabularies' names)
_KINDS_ZH: dict[str, str] = {"destination_type": "目的地类型", "product": "产品",
                             "category": "品类", "plan": "套餐"}
_CHANNELS_ZH: dict[str, str] = {"email": "邮件", "sms": "短信", "phone": "电话"}


def _zh_header(column: str) -> str:
    if column in ZH_HEADERS:
        return ZH_HEADERS[column]
    if column.startswith("churn_prob_") and column.endswith("d") \
            and column[len("churn_prob_"):-1].isdigit():
        return f"{int(column[len('churn_prob_'):-1])} 天内流失概率"
    if column.startswith("consent_") and len(column) > len("consent_"):
        channel = column[len("consent_"):]
        return f"同意{_CHANNELS_ZH.get(channel, channel)}联系"
    if column.startswith("suggested_") and len(column) > len("suggested_"):
        kind = column[len("suggested_"):]
        if kind.endswith("_lift"):
            kind = kind[:-len("_lift")]
            return f"推荐{_KINDS_ZH.get(kind, kind)}提升度"
        return f"推荐{_KINDS_ZH.get(kind, kind)}"
    return column


def csv_headers(columns: Sequence[str], language: str) -> dict[str, str]:
    """The header of each column of a CSV list in ``language``.

    Parameters
    ----------
    columns : the list's column names (stable names, or the vocabulary's names of the
        suggestion columns).
    language : ``en`` (the names themselves) or ``zh`` (Chinese headers; a column without
        one keeps its name).

    Returns
    -------
    dict : column -> header, for every column, in the columns' order; the headers are
        distinct (a Chinese header two columns would share gets the column name added).

    Raises
    ------
    ValueError
        Another language; the message names the ones there are.
    """
    if language not in CSV_LANGUAGES:
        raise ValueError(f"report.language {language!r} has no CSV headers; choose one of "
                         f"{list(CSV_LANGUAGES)}")
    if language == "en":
        return {c: c for c in columns}
    out: dict[str, str] = {}
    for column in dict.fromkeys(columns):
        header = _zh_header(column)
        out[column] = header if header not in out.values() else f"{header}（{column}）"
    return out
