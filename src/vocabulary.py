"""The words a marketer reads: segment labels, list (action) names, suggestion columns and the
data dictionary, in the domain the job's data comes from (``vocabulary:`` in the params).

Three vocabularies (:data:`VOCABULARIES`):

``travel`` (default)
    today's wording exactly (``premium package travellers``, ``second_trip_offer``,
    ``suggested_destination_type``), so the demo's outputs do not change.
``retail``
    a shop: shoppers and business customers, orders, products and categories
    (``premium candles buyers``, ``second_order_offer``, ``suggested_category``).
``subscription``
    members and subscribers, plans (``frequent subscribers``, ``renewal_offer``,
    ``suggested_plan``, ``suggested_category``).

Where the vocabulary applies
----------------------------
- **Segment labels** are words, made when the clusters are labelled
  (:func:`src.models.segmentation.labels.make_labels`, through
  :meth:`~src.models.segmentation.SegmentationModel.from_params`).
- **Action (list) names** are values the params own: ``scoring.action_rules`` names them, and
  only the *default* rule set comes from the vocabulary
  (:func:`src.decisioning.actions.default_action_rules`). The name is the same everywhere: the
  ``recommended_action`` column, ``export.campaign_actions`` / ``max_rows`` and the list file
  ``list_<action>``.
- **Column names stay stable; the vocabulary renames them where people read them.** The
  scored table is a schema (the scorer's logged MLflow signature, ``crm score``, Spark, the
  champion scoring a new run, ``export.columns``), and its suggestion columns are named after
  the contract's bookings columns (``suggested_destination_type``, ``suggested_product``),
  whatever the vocabulary. The exports (lists, ``scored_customers``) and the data dictionary
  ``columns.md`` show :attr:`Vocabulary.column_names` instead (``suggested_category`` in
  ``retail``), with the meaning worded in the vocabulary
  (:func:`src.decisioning.scored_columns.column_docs`). ``export.columns`` therefore always names
  the stable columns.

Data values (a product ``flight``, a category ``home_decor``) are the data's own words and
appear as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["VOCABULARIES", "Vocabulary", "VocabularyName", "vocabulary"]

VocabularyName = Literal["travel", "retail", "subscription"]


@dataclass(frozen=True)
class Vocabulary:
    """The domain words of one vocabulary.

    Parameters
    ----------
    name : the name in the params (``travel``, ``retail``, ``subscription``).
    customers : noun of a cluster without a more specific one (``travellers``).
    corporate : noun of a cluster of mostly corporate customers (``customer_type``).
    families : noun of a cluster with large parties (mean ``party_size`` >= 2.8).
    lead_products : dominant product -> noun that wins over ``families``
        (``business_travel`` -> ``business travellers``).
    product_nouns : dominant product -> noun (``hotel`` -> ``hotel guests``).
    product_pattern : noun of another dominant product, ``{product}`` filled in.
    booking, bookings, booked : the purchase, its plural and verb (``order``, ``orders``,
        ``ordered``), in the data dictionary.
    first_purchase : adjective of the first purchase (``first-trip``), in plots.
    item_names : suggestion item kind (a bookings column of ``scoring.item_columns``) -> its
        name (``destination_type`` -> ``category``); a kind not listed keeps its own.
    action_names : default action -> its name (``second_trip_offer`` ->
        ``second_order_offer``); an action not listed keeps its own.
    """

    name: str
    customers: str
    corporate: str
    families: str
    product_pattern: str
    booking: str
    bookings: str
    booked: str
    first_purchase: str
    lead_products: Mapping[str, str] = field(default_factory=dict)
    product_nouns: Mapping[str, str] = field(default_factory=dict)
    item_names: Mapping[str, str] = field(default_factory=dict)
    action_names: Mapping[str, str] = field(default_factory=dict)

    def product_noun(self, product: str) -> str:
        """Noun of a cluster whose dominant product is ``product``."""
        return self.product_nouns.get(product, self.product_pattern.format(product=product))

    def item_name(self, kind: str) -> str:
        """Name of a suggestion item kind (``destination_type`` -> ``category``)."""
        return self.item_names.get(kind, kind)

    def action_name(self, action: str) -> str:
        """Name of a default action in this vocabulary."""
        return self.action_names.get(action, action)

    @property
    def column_names(self) -> dict[str, str]:
        """Stable scored column -> the name people read, for the columns worded differently
        (``suggested_<kind>`` and ``suggested_<kind>_lift``); empty for ``travel``."""
        out = {}
        for kind, name in self.item_names.items():
            if name != kind:
                out[f"suggested_{kind}"] = f"suggested_{name}"
                out[f"suggested_{kind}_lift"] = f"suggested_{name}_lift"
        return out


VOCABULARIES: dict[str, Vocabulary] = {
    "travel": Vocabulary(
        name="travel",
        customers="travellers",
        corporate="corporate travellers",
        families="families",
        lead_products={"business_travel": "business travellers"},
        product_nouns={"hotel": "hotel guests", "flight": "flyers",
                       "package": "package travellers", "tour": "tour travellers",
                       "ticket": "ticket buyers", "business_travel": "business travellers"},
        product_pattern="{product} travellers",
        booking="booking", bookings="bookings", booked="booked",
        first_purchase="first-trip",
    ),
    "retail": Vocabulary(
        name="retail",
        customers="shoppers",
        corporate="business customers",
        families="households",
        product_pattern="{product} buyers",
        booking="order", bookings="orders", booked="ordered",
        first_purchase="first-order",
        item_names={"destination_type": "category"},
        action_names={"second_trip_offer": "second_order_offer"},
    ),
    "subscription": Vocabulary(
        name="subscription",
        customers="subscribers",
        corporate="business subscribers",
        families="households",
        product_pattern="{product} subscribers",
        booking="purchase", bookings="purchases", booked="purchased",
        first_purchase="first-purchase",
        item_names={"destination_type": "category", "product": "plan"},
        action_names={"second_trip_offer": "renewal_offer"},
    ),
}
"""The vocabularies by name (the ``vocabulary:`` values of the params)."""


def vocabulary(name: str | Vocabulary = "travel") -> Vocabulary:
    """The vocabulary called ``name`` (a :class:`Vocabulary` is returned as it is).

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.
    """
    if isinstance(name, Vocabulary):
        return name
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise ValueError(f"unknown vocabulary {name!r}; choose one of "
                         f"{sorted(VOCABULARIES)} (params: vocabulary)") from None
