"""The scored table's columns: their order and MLflow types, and one line per column saying
what it means and its unit (the data dictionary published beside the lists).

:func:`output_schema` is what :class:`~src.decisioning.scoring.CustomerScorer` returns and its
logged signature declares; :func:`column_docs` / :func:`data_dictionary` describe the same
columns for the people who open the lists, worded in the job's vocabulary
(:mod:`src.vocabulary`: orders instead of bookings, ``suggested_category`` for
``suggested_destination_type`` in ``retail``); :data:`COLUMN_DOCS` is the ``travel`` wording.
The column names themselves do not depend on the vocabulary. Units: days for every ``*_days``
column, the data's currency for money, probabilities in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

from src.vocabulary import Vocabulary
from src.vocabulary import vocabulary as vocabulary_named

__all__ = ["COLUMN_DOCS", "churn_probability_columns", "column_doc", "column_docs",
           "data_dictionary", "output_schema"]


def churn_probability_columns(horizons_days: Sequence[int]) -> list[str]:
    """``churn_prob_<h>d`` for each horizon h (days, ``churn.horizons_days``), in order."""
    return [f"churn_prob_{int(h)}d" for h in horizons_days]


def output_schema(horizons_days: Sequence[int], item_kinds: Sequence[str],
                  channels: Sequence[str]) -> dict[str, str]:
    """Scored columns in order -> MLflow type (``string``, ``double``, ``long``, ``boolean``).

    ``horizons_days``: the churn horizons (days), ``churn.horizons_days``: one
    ``churn_prob_<h>d`` column each."""
    cols: dict[str, str] = {
        "customer_id": "string", "cutoff_date": "string",
        "segment": "string", "cluster": "long", "rfm_segment": "string",
        "r_score": "double", "f_score": "double", "m_score": "double", "value_tier": "string",
        "lifecycle_stage": "string", "churn_status": "string",
    }
    cols.update({c: "double" for c in churn_probability_columns(horizons_days)})
    cols.update({
        "expected_remaining_days": "double", "median_remaining_days": "double",
        "p_alive": "double", "expected_bookings": "double", "clv": "double",
        "clv_horizon_days": "double", "expected_avg_booking_value": "double",
        "avg_booking_value": "double", "avg_days_between_bookings": "double",
        "expected_days_to_next_booking": "double", "expected_next_booking_date": "string",
        "n_bookings": "double", "repeat_customer": "boolean", "member_tier": "string",
        "loyalty_member": "double", "csat_mean": "double", "nps_mean": "double",
        "nps_group": "string", "recommended_action": "string", "preferred_channel": "string",
    })
    cols.update({f"consent_{ch}": "double" for ch in channels})
    for kind in item_kinds:
        cols[f"suggested_{kind}"] = "string"
        cols[f"suggested_{kind}_lift"] = "double"
    cols.update({"insufficient_history": "boolean", "insufficient_history_reason": "string"})
    return cols


#: one line per scored column, with {booking} / {bookings} / {booked} for the vocabulary's words
_DOCS: dict[str, str] = {
    "customer_id": "the customer's id in the source data",
    "channel": "the consented channel this list contacts the customer on",
    "suppressed": "True when the customer is on the suppression list (never on a list)",
    "name": "the customer's name (personal data, only where export.pii_columns allows)",
    "email": "e-mail address (personal data, only where export.pii_columns allows)",
    "phone": "phone number (personal data, only where export.pii_columns allows)",
    "email_sha256": "SHA-256 of the trimmed lower-case e-mail, for ad-platform matching",
    "phone_sha256": "SHA-256 of the phone digits with country code, for ad-platform matching",
    "cutoff_date": "the date the scores describe (ISO date); nothing after it was used",
    "segment": "behavioural cluster, named by its profile",
    "cluster": "behavioural cluster number (-1: no completed {booking})",
    "rfm_segment": "named RFM segment (recency, frequency, monetary scores)",
    "r_score": "recency score, 1 (long ago) to 5 (recent)",
    "f_score": "frequency score, 1 (few) to 5 (many)",
    "m_score": "monetary score, 1 (low spend) to 5 (high spend)",
    "value_tier": "value tier by share of revenue: most_valuable / major / ordinary / small",
    "lifecycle_stage": "lifecycle stage (cancelled, new, active, loyal, at_risk, lapsed, won_back, ...)",
    "churn_status": "what has already happened: active, lapsed (no {booking} for the churn gap), "
                    "cancelled (membership cancelled) or no_completed_booking",
    "churn_prob_{h}d": "probability (0-1) of churning within {h} days; empty when the customer "
                       "has already lapsed or cancelled",
    "expected_remaining_days": "expected remaining customer lifetime (days, capped)",
    "median_remaining_days": "median remaining customer lifetime (days)",
    "p_alive": "BG/NBD probability (0-1) the customer has not silently left; 1 for customers "
               "with one {booking} by construction of the model (read churn_status); 0 when cancelled",
    "expected_bookings": "expected {bookings} within the CLV horizon",
    "clv": "customer lifetime value over the CLV horizon (currency, discounted)",
    "clv_horizon_days": "horizon of clv and expected_bookings (days)",
    "expected_avg_booking_value": "expected value of a future {booking} (currency)",
    "avg_booking_value": "average value of the completed {bookings} so far (currency)",
    "avg_days_between_bookings": "average days between {booking} days so far (days)",
    "expected_days_to_next_booking": "expected days until the next {booking} (days)",
    "expected_next_booking_date": "expected date of the next {booking} (ISO date)",
    "n_bookings": "completed {bookings} up to the cut-off",
    "repeat_customer": "True when the customer {booked} on more than one day",
    "member_tier": "loyalty tier at the cut-off",
    "loyalty_member": "1 when a loyalty member at the cut-off, 0 otherwise",
    "csat_mean": "average satisfaction score (1-5)",
    "nps_mean": "average likelihood to recommend (0-10)",
    "nps_group": "promoter (9-10), passive (7-8) or detractor (0-6)",
    "recommended_action": "next best action (the list the customer is on)",
    "preferred_channel": "the consented channel to contact the customer on (none: no consent)",
    "consent_{channel}": "1 when the customer consents to {channel}, 0 when not",
    "suggested_{kind}": "the {kind} to offer next (item association)",
    "suggested_{kind}_lift": "lift of the suggestion (how much likelier than on average)",
    "insufficient_history": "True when the history is too short for trustworthy predictions",
    "insufficient_history_reason": "why insufficient_history is set",
}


class _KeepTemplates(dict):
    """``str.format_map`` mapping that leaves the column templates (``{h}``, ``{kind}``, ...)
    in place."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def column_docs(vocabulary: str | Vocabulary = "travel") -> dict[str, str]:
    """One line per scored column, what it means and its unit, worded in ``vocabulary`` (a
    :mod:`src.vocabulary` name or :class:`~src.vocabulary.Vocabulary`).

    Keys are the stable column names, templates included (``churn_prob_{h}d``,
    ``suggested_{kind}``); :func:`column_doc` fills them in.
    """
    vocab = vocabulary_named(vocabulary)
    words = _KeepTemplates(booking=vocab.booking, bookings=vocab.bookings, booked=vocab.booked)
    return {column: text.format_map(words) for column, text in _DOCS.items()}


#: the ``travel`` wording of :func:`column_docs` (the data dictionary beside exports)
COLUMN_DOCS: dict[str, str] = column_docs("travel")


def column_doc(column: str, vocabulary: str | Vocabulary = "travel") -> str:
    """The data-dictionary line of a scored column (its stable name; templates filled in, an
    item kind by its name in ``vocabulary``); empty for an unknown column."""
    vocab = vocabulary_named(vocabulary)
    docs = column_docs(vocab)
    if column in docs:
        return docs[column]
    matches = []  # the most specific template wins (suggested_{kind}_lift over suggested_{kind})
    for template, text in docs.items():
        head, brace, tail = template.partition("{")
        name, _, rest = tail.partition("}")
        if brace and column.startswith(head) and column.endswith(rest) \
                and len(column) > len(head + rest):
            value = column[len(head):len(column) - len(rest)]
            value = vocab.item_name(value) if name == "kind" else value
            matches.append((len(head + rest), text.replace("{" + name + "}", value)))
    return max(matches)[1] if matches else ""


def data_dictionary(columns: Sequence[str], vocabulary: str | Vocabulary = "travel") -> str:
    """A Markdown data dictionary of ``columns`` (stable names): one line per column, meaning
    and unit, each under the name the exports give it in ``vocabulary``
    (:attr:`~src.vocabulary.Vocabulary.column_names`)."""
    vocab = vocabulary_named(vocabulary)
    shown = vocab.column_names
    lines = ["# Columns of the scored customers and the lists", "",
             "| column | meaning |", "| --- | --- |"]
    lines += [f"| `{shown.get(c, c)}` | {column_doc(c, vocab) or '(see the list parameters)'} |"
              for c in columns]
    return "\n".join(lines) + "\n"
