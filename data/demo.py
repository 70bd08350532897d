"""Seeded demo data: two years of a small online coffee-and-home shop's orders and support tickets.

``generate()`` returns frames shaped exactly like ``data.schema`` so the dashboard can run without an upload. The
generator is vectorised with numpy so ``scale=100`` (about six million orders) stays well under two minutes.

The story the data tells, so every page has something to show:
- orders grow about 25 % a year, with a Black Friday to Cyber Monday peak (3-4x) and a December peak (1.8x);
- fulfilment slows down in the peaks, late parcels cause "where is my order" tickets a few days later;
- other contacts follow shop traffic, so tickets also rise 3-4x over BFCM;
- the helpdesk's order-number field is filled on some tickets only: others name their order in the subject
  ("Where is my order #1042?"), some only through the customer, and prospects' tickets name none, so every way
  data/linking.py links a ticket to its order shows;
- agents are staffed for a normal day, so first replies slow down when the day's load is high, and customers who
  waited longer rate their support worse.

Wall-clock times are drawn in the requested time zone, then stored as naive UTC like every other reader does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from data.basics import POLARS_TYPES, sha256_bytes
from data.ingest import Batch
from data.privacy import key_from_digest
from data.schema import DEMO_SOURCE, ORDER_LINES, ORDERS, TICKETS, Table
from data.taxonomy import CATEGORIES

__all__ = ["DEMO_END", "DEMO_SOURCE", "DEMO_START", "demo_batch", "generate"]

DEMO_START = date(2024, 10, 1)
DEMO_END = date(2026, 10, 31)  # inclusive, a local date in the requested time zone
DEMO_VERSION = 5  # bump when the generator changes, so a stored demo is not mistaken for the new one

HOUR = 3_600
DAY = 86_400
MINUTE = 60.0

# --- calendar -------------------------------------------------------------------------------------------------------
NORMAL, BFCM, DECEMBER, LULL = 0, 1, 2, 3
BLACK_FRIDAYS = (date(2024, 11, 29), date(2025, 11, 28))
BFCM_LIFT = np.array([3.5, 3.0, 3.0, 3.8])  # Black Friday, Saturday, Sunday, Cyber Monday
THANKSGIVING_LIFT = 1.4
DECEMBER_LIFT = 1.8  # gift shopping from Dec 2 to Dec 22
LULL_LIFT = 0.7  # Dec 24-26

# --- orders ---------------------------------------------------------------------------------------------------------
BASE_ORDERS_PER_DAY = 65.0
YEARLY_GROWTH = 1.25
DAILY_NOISE_SIGMA = 0.08  # day-to-day swings beyond Poisson noise, visible even at large scales
ORDER_WEEKDAY = np.array([1.05, 1.0, 0.98, 0.97, 0.95, 0.97, 1.08])  # Monday first
ORDER_HOURS = np.array([1.2, 0.8, 0.5, 0.3, 0.25, 0.3, 0.6, 1.2, 2.0, 2.8, 3.2, 3.5,
                        3.8, 3.8, 3.6, 3.6, 3.8, 4.2, 5.0, 6.0, 6.6, 6.4, 5.0, 2.8])  # people shop after work

REPEAT_CUSTOMER_SHARE = 0.31
EXTRA_ORDERS_P = 0.45  # geometric: how many more orders a returning customer places
MAX_EXTRA_ORDERS = 14
EUR_CUSTOMER_SHARE = 0.15  # customers of the EU storefront pay in euros
CURRENCIES = ("USD", "EUR")

LINES_PER_ORDER = (np.array([1, 2, 3, 4]), np.array([0.55, 0.28, 0.12, 0.05]))
QUANTITY = (np.array([1, 2, 3]), np.array([0.8, 0.15, 0.05]))
MAX_CATALOG_STEP = 7  # three steps of at most 7 stay below the catalog size, so an order never repeats a product

# (sku, product name, vendor, USD price in cents, popularity)
CATALOG: tuple[tuple[str, str, str, int, float], ...] = (
    ("NWR-101", "House Espresso Beans 1kg", "Northwind Roasters", 3200, 9.0),
    ("NWR-102", "Single Origin Ethiopia 250g", "Northwind Roasters", 1650, 6.0),
    ("NWR-103", "Decaf Colombia 500g", "Northwind Roasters", 2100, 3.0),
    ("NWR-104", "Cold Brew Blend 1kg", "Northwind Roasters", 2900, 4.0),
    ("NWR-105", "Coffee Sampler Box", "Northwind Roasters", 3900, 5.0),
    ("NWR-106", "Barista Starter Kit", "Northwind Roasters", 9900, 2.0),
    ("KCO-201", "Gooseneck Kettle", "Kettle & Co", 6900, 3.5),
    ("KCO-202", "Pour-Over Dripper", "Kettle & Co", 2400, 4.5),
    ("KCO-203", "Burr Coffee Grinder", "Kettle & Co", 12900, 2.5),
    ("KCO-204", "Glass Carafe 600ml", "Kettle & Co", 2700, 2.0),
    ("KCO-205", "Paper Filters (100)", "Kettle & Co", 750, 7.0),
    ("KCO-206", "Milk Frother", "Kettle & Co", 4500, 2.5),
    ("ALO-301", "Oak Serving Board", "Alder & Oak", 4800, 1.5),
    ("ALO-302", "Walnut Coffee Scoop", "Alder & Oak", 1400, 2.5),
    ("ALO-303", "Ceramic Mug Set of 2", "Alder & Oak", 3200, 4.0),
    ("ALO-304", "Espresso Cups Set of 4", "Alder & Oak", 3600, 2.0),
    ("ALO-305", "Bamboo Utensil Set", "Alder & Oak", 2200, 1.5),
    ("ALO-306", "Cast Iron Skillet", "Alder & Oak", 5900, 1.5),
    ("LUM-401", "Linen Table Runner", "Lumen Home", 3400, 1.0),
    ("LUM-402", "Soy Candle Amber", "Lumen Home", 2600, 3.0),
    ("LUM-403", "Stoneware Vase", "Lumen Home", 4200, 1.2),
    ("LUM-404", "Wool Throw Blanket", "Lumen Home", 8900, 1.5),
    ("LUM-405", "Reading Lamp", "Lumen Home", 11900, 1.0),
    ("LUM-406", "Cotton Tea Towels (3)", "Lumen Home", 1900, 2.0),
    ("BPO-501", "Insulated Travel Mug", "Bluepeak Outdoor", 2900, 4.0),
    ("BPO-502", "Camping Pour-Over Kit", "Bluepeak Outdoor", 5400, 1.2),
    ("BPO-503", "Vacuum Flask 1L", "Bluepeak Outdoor", 3800, 2.5),
    ("BPO-504", "Enamel Camp Mug", "Bluepeak Outdoor", 1700, 2.0),
    ("BPO-505", "Portable Espresso Maker", "Bluepeak Outdoor", 7900, 1.8),
    ("BPO-506", "Picnic Blanket", "Bluepeak Outdoor", 4900, 1.0),
)

# index 0 means "no code"; rates are shares of gross sales
DISCOUNT_CODES: tuple[str | None, ...] = (None, "WELCOME10", "SAVE15", "VIP20", "BFCM25", "HOLIDAY20")
DISCOUNT_RATES = np.array([0.0, 0.10, 0.15, 0.20, 0.25, 0.20])
NO_CODE, WELCOME10, SAVE15, VIP20, BFCM25, HOLIDAY20 = range(6)
CODE_SHARE_FIRST_ORDER, CODE_SHARE_REPEAT, CODE_SHARE_BFCM, CODE_SHARE_DECEMBER = 0.22, 0.12, 0.55, 0.35
VIP_SHARE_OF_LOYALTY_CODES = 0.4

SHIPPING_METHODS = ("Standard", "Express", "Free shipping")
STANDARD, EXPRESS, FREE_SHIPPING = range(3)
SHIPPING_CENTS = np.array([[599, 1499, 0], [495, 1295, 0]])  # by currency (USD, EUR) x method
FREE_SHIPPING_FROM_CENTS = np.array([7500, 6900])
EXPRESS_SHARE, EXPRESS_SHARE_ABOVE_THRESHOLD = 0.18, 0.1  # some pay for speed even when shipping would be free
USD_TAX_RATES = (np.array([0.0, 0.04, 0.0625, 0.0725, 0.0875]), np.array([0.25, 0.15, 0.2, 0.25, 0.15]))
EUR_TAX_RATES = (np.array([0.19, 0.20, 0.21]), np.array([0.4, 0.35, 0.25]))

FULFIL_MEDIAN_HOURS = 30.0
FULFIL_SIGMA = 0.6
FULFIL_SLOWDOWN = np.array([1.0, 2.2, 1.35, 1.2])  # by period: the warehouse falls behind in the peaks
TRANSIT_DAYS = (2.0, 5.0)
EARLY_CANCEL_SHARE = 0.006
PENDING_SHARE_OF_RECENT = 0.08  # a few orders of the last two days still await payment
PARTIAL_SHARE_OF_WAITING = 0.35  # multi-line orders waiting for stock ship in parts

FINANCIAL_STATUSES = ("paid", "refunded", "partially_refunded", "pending", "voided")
PAID, REFUNDED, PARTIALLY_REFUNDED, PENDING, VOIDED = range(5)
FULFILLMENT_STATUSES = ("fulfilled", "partial", "unfulfilled")
FULFILLED, PARTIAL, UNFULFILLED = range(3)
BASE_REFUND_SHARE = 0.04
REFUND_SHARE_AFTER_COMPLAINT = 0.6
FULL_REFUND_SHARE = 0.4
CANCEL_SHARE_AFTER_REQUEST = 0.6
VOID_SHARE_OF_CANCELLED = 0.65

# --- tickets --------------------------------------------------------------------------------------------------------
TICKET_CATEGORIES = tuple(slug for slug in CATEGORIES if slug != "uncategorised")
SHIPPING_STATUS = TICKET_CATEGORIES.index("shipping_status")
CREATED, DELIVERED = "created", "delivered"


@dataclass(frozen=True)
class _Reason:
    """Why customers write in, apart from "where is my order" (which late parcels cause, see _wismo_tickets)."""

    category: str
    weights: tuple[float, float, float, float]  # share of contacts on NORMAL, BFCM, DECEMBER, LULL days
    anchor: str  # CREATED: asked soon after ordering; DELIVERED: asked after the parcel arrived
    lag_hours: float  # mean wait after the anchor event
    order_share: float  # share of these contacts that name an order


REASONS = (
    _Reason("refund", (14, 7, 10, 14), DELIVERED, 60, 0.95),
    _Reason("return", (16, 8, 12, 18), DELIVERED, 72, 0.95),
    _Reason("product_question", (13, 22, 16, 10), CREATED, 24, 0.25),
    _Reason("damaged_item", (11, 6, 9, 11), DELIVERED, 24, 0.97),
    _Reason("order_change", (10, 15, 12, 8), CREATED, 3, 1.0),
    _Reason("wrong_item", (6, 3, 5, 6), DELIVERED, 24, 0.97),
    _Reason("order_cancel", (6, 9, 7, 5), CREATED, 2, 1.0),
    _Reason("exchange", (6, 3, 5, 9), DELIVERED, 96, 0.95),
    _Reason("shipping_change", (5, 7, 7, 4), CREATED, 4, 1.0),
    _Reason("discount", (5, 16, 10, 4), CREATED, 2, 0.55),
    _Reason("feedback", (3, 2, 3, 4), DELIVERED, 72, 0.7),
    _Reason("product_quality", (4, 2, 3, 4), DELIVERED, 48, 0.95),
    _Reason("payment", (2, 3, 3, 2), CREATED, 12, 0.8),
    _Reason("website_app", (1, 3, 2, 1), CREATED, 1, 0.2),
    _Reason("account", (1, 1, 1, 1), CREATED, 48, 0.1),
    _Reason("other", (2, 2, 2, 2), CREATED, 48, 0.5),
)
REASON_CATEGORY = np.array([TICKET_CATEGORIES.index(reason.category) for reason in REASONS])
REASON_WEIGHTS = np.array([reason.weights for reason in REASONS], dtype=float).T
REASON_WEIGHTS /= REASON_WEIGHTS.sum(axis=1, keepdims=True)

CONTACTS_PER_ORDER = 0.07  # everything but "where is my order", per order of a normal day
PEAK_CONTACT_BOOST = np.array([1.0, 1.05, 1.0, 0.85])  # by period: promo questions on top of the order lift
TICKET_WEEKDAY = np.array([1.25, 1.15, 1.1, 1.05, 0.95, 0.7, 0.8])
TICKET_HOURS_WEEKDAY = np.array([0.3, 0.2, 0.15, 0.15, 0.2, 0.4, 1.0, 2.2, 4.2, 6.0, 6.4, 6.2,
                                 5.6, 5.8, 6.0, 5.8, 5.2, 4.4, 3.0, 2.4, 2.0, 1.6, 1.0, 0.6])
TICKET_HOURS_WEEKEND = np.array([0.5, 0.3, 0.2, 0.2, 0.2, 0.3, 0.6, 1.2, 2.0, 2.8, 3.2, 3.4,
                                 3.4, 3.3, 3.2, 3.1, 3.0, 2.9, 2.7, 2.5, 2.2, 1.8, 1.2, 0.8])
WISMO_SHARE_LATE, WISMO_SHARE_SLOW, WISMO_SHARE_ON_TIME = 0.30, 0.08, 0.012
WEEKEND_WISMO_WAITS_FOR_MONDAY = 0.35
PROSPECT_SHARE_OF_ORDERLESS = 0.5  # the rest are existing customers asking without an order number

CHANNELS = ("email", "chat", "phone", "social")
EMAIL, CHAT, PHONE, SOCIAL = range(4)
CHANNEL_SHARES = np.array([0.44, 0.29, 0.12, 0.15])  # before off-hours chats and calls turn into emails
OPEN_FROM, OPEN_UNTIL = 8 * HOUR, 20 * HOUR  # live channels are staffed 08-20 local time
OFF_HOURS_CHAT_TO_EMAIL = 0.7
OVERFLOW_FROM_LOAD = 1.5  # live queues spill over only on clearly overloaded days
MAX_LIVE_OVERFLOW = 0.5
FIRST_REPLY_MEDIAN_MINUTES = np.array([240.0, 2.5, 1.0, 120.0])
FIRST_REPLY_SIGMA = np.array([0.9, 0.8, 0.6, 0.9])
WEEKEND_ASYNC_SLOWDOWN = 1.4
LOAD_EXPONENT = 0.85
STAFFING_BOOST = np.array([1.0, 1.1, 1.4, 1.0])  # by period: extra shifts, never enough for the peak
NO_REPLY_SHARE = 0.04  # solved without an agent reply (customer sorted it out, duplicates)

PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_SHARES = np.array([0.2, 0.6, 0.15, 0.05])
PRIORITY_SHARES_PRESSING = np.array([0.05, 0.5, 0.33, 0.12])
PRESSING = ("damaged_item", "wrong_item", "order_cancel", "shipping_change")
URGENT = PRIORITIES.index("urgent")
PRIORITY_SPEED = np.array([1.3, 1.0, 0.7, 0.45])

GROUPS = ("Tier 1", "Tier 2")
AGENTS = ("Agent Ada", "Agent Ben", "Agent Cleo", "Agent Dev", "Agent Eli", "Agent Fay",
          "Agent Gus", "Agent Hana", "Agent Ivo", "Agent Jun", "Agent Kit", "Agent Lou")
TIER1_AGENT_WEIGHTS = np.array([1.3, 1.2, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.6])
TIER2_AGENTS = 3  # the last three agents
TIER2_SHARE, TIER2_SHARE_ESCALATED = 0.08, 0.3
ESCALATED = ("damaged_item", "wrong_item", "refund")

HANDLE_MEDIAN_HOURS = {
    "shipping_status": 5, "shipping_change": 3, "order_cancel": 2, "order_change": 3, "damaged_item": 26,
    "wrong_item": 22, "refund": 20, "return": 40, "exchange": 48, "discount": 1, "product_question": 2,
    "feedback": 1.5, "product_quality": 24, "payment": 8, "website_app": 4, "account": 3, "other": 6,
}
HANDLE_SIGMA = 1.0
LIVE_HANDLE_FACTOR = 0.5
REOPEN_SHARE, SECOND_REOPEN_SHARE = 0.065, 0.15
REOPEN_EXTRA_MEDIAN_HOURS = 30.0
AWAITING_CUSTOMER_SHARE = 0.55  # tickets set to pending while the customer sends photos, returns the parcel...
AWAITING_CUSTOMER_MEDIAN_HOURS = 30.0
REPLY_COUNTS = (np.arange(1, 7), np.array([0.40, 0.27, 0.16, 0.09, 0.05, 0.03]))
CLOSE_AFTER_DAYS = 4

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
NEW, OPEN, PENDING_STATUS, HOLD, SOLVED, CLOSED = range(6)
WAITING_STATUS_SHARES = np.array([0.45, 0.4, 0.15])  # open, pending, hold once an agent has replied
NEW_SHARE_OF_UNTOUCHED = 0.6  # the rest were opened by an agent who has not replied yet

SURVEY_SHARE, SURVEY_RESPONSE_SHARE = 0.92, 0.30
NPS_SHARE_OF_RATED = 0.6
UNTAGGED_SHARE = 0.3  # tickets the agents left without a category
ORDER_FIELD_FILLED = 0.6  # of tickets about an order, those whose order-number field the agent or form filled
NPS_SATISFIED = (np.array([10, 9, 8, 7, 6]), np.array([0.38, 0.30, 0.20, 0.08, 0.04]))
NPS_UNSATISFIED = (np.array([7, 6, 5, 4, 3, 2, 1, 0]), np.array([0.10, 0.15, 0.20, 0.15, 0.15, 0.10, 0.05, 0.10]))
GOOD_BASE, GOOD_DROP_PER_DOUBLING, GOOD_DROP_REOPENED, GOOD_DROP_BROKEN = 0.92, 0.13, 0.15, 0.06
GOOD_WITHOUT_REPLY = 0.75
GOOD_SCORES = (np.array([4, 5]), np.array([0.3, 0.7]))
BAD_SCORES = (np.array([1, 2, 3]), np.array([0.4, 0.25, 0.35]))

TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "shipping_status": (
        ("Where is my order{ref}?", "My order{ref} still has not arrived and the tracking page has not changed."),
        ("Tracking not updating{ref}", "The tracking link for my order{ref} shows no movement for days."),
        ("Order{ref} not delivered yet", "I expected my {product} by now, can you tell me when it will arrive?"),
    ),
    "shipping_change": (
        ("Change delivery address{ref}", "I need to change the delivery address on my order{ref} before it ships."),
        ("Upgrade to express shipping{ref}", "Is it still possible to upgrade my order{ref} to express shipping?"),
        ("Hold my parcel{ref}", "I am away next week, could you hold the shipment of my order{ref} for a few days?"),
    ),
    "order_cancel": (
        ("Cancel my order{ref}", "Please cancel my order{ref}, I placed it by mistake."),
        ("Cancellation request{ref}", "I found another option and would like to cancel my order{ref} before it ships."),
        ("Ordered twice by accident", "I placed the same order twice by accident, please cancel my order{ref}."),
    ),
    "order_change": (
        ("Add an item to my order{ref}", "Could you add a second {product} to my order{ref} before it ships?"),
        ("Change the variant{ref}", "I picked the wrong variant of the {product}, please change my order{ref}."),
        ("Change my order{ref}", "I would like to swap one item in my order{ref} for the {product}."),
    ),
    "damaged_item": (
        ("Item arrived damaged{ref}", "The {product} from my order{ref} arrived broken and the box was crushed."),
        ("Broken on arrival{ref}", "My {product} arrived cracked, what can you do about it?"),
        ("Damaged parcel{ref}", "The parcel for my order{ref} was damaged in transit and the {product} is unusable."),
    ),
    "wrong_item": (
        ("Received the wrong item{ref}", "I ordered the {product} but my order{ref} contained something else."),
        ("Item missing from my order{ref}", "My order{ref} arrived without the {product}."),
        ("Wrong variant sent{ref}", "The {product} I received is not what I ordered, it is another variant."),
    ),
    "refund": (
        ("Refund status{ref}", "I sent back my order{ref} two weeks ago and have not seen the refund yet."),
        ("Request a refund{ref}", "I am not happy with the {product} and would like a refund."),
        ("Where is my refund{ref}?", "You confirmed a refund for my order{ref} but it is not on my statement yet."),
    ),
    "return": (
        ("Return request{ref}", "I would like to return the {product} from my order{ref}, how do I get a label?"),
        ("How do I return an item?", "The {product} is not what I expected, what is your return process?"),
        ("Return label not working{ref}", "The return label for my order{ref} is not accepted by the carrier."),
    ),
    "exchange": (
        ("Exchange for another size{ref}", "Can I exchange the {product} from my order{ref} for another size?"),
        ("Exchange request{ref}", "I would like to exchange the {product} for a different colour."),
        ("Swap an item{ref}", "Is it possible to swap the {product} in my order{ref} for another model?"),
    ),
    "discount": (
        ("Discount code not working", "My discount code is not accepted at checkout for the {product}."),
        ("Forgot to apply my code{ref}", "I forgot to use my discount code on my order{ref}, can you still apply it?"),
        ("Is the {product} on sale soon?", "Will the {product} be part of your next promotion?"),
    ),
    "product_question": (
        ("Question about the {product}", "Could you tell me the exact dimensions and materials of the {product}?"),
        ("Is the {product} in stock?", "When will the {product} be back in stock?"),
        ("{product} compatibility", "Does the {product} work with the accessories I already have?"),
    ),
    "feedback": (
        ("Thank you!", "Just wanted to say the {product} is great and arrived quickly."),
        ("Suggestion for your shop", "It would be great if you offered gift wrapping for items like the {product}."),
        ("Feedback on my order{ref}", "The packaging of my order{ref} used a lot of plastic, please consider paper."),
    ),
    "product_quality": (
        ("Poor quality{ref}", "The {product} feels flimsy and looks nothing like the pictures on your site."),
        ("Not as described{ref}", "The {product} from my order{ref} is not as described, the material is thin."),
        ("Is this genuine?", "The {product} I received looks like a fake, the logo is printed crooked."),
    ),
    "payment": (
        ("Charged twice{ref}", "My card was charged twice for order{ref}, please check the payment."),
        ("Invoice request{ref}", "Could you send me an invoice for my order{ref}?"),
        ("Payment declined", "My card keeps getting declined at the last step although it works elsewhere."),
    ),
    "website_app": (
        ("Checkout error", "I get an error message at checkout when I try to buy the {product}."),
        ("App not loading", "Your app will not load past the start screen since this morning."),
        ("Website down?", "The website is not loading for me, is something wrong?"),
    ),
    "account": (
        ("Question about my account", "How do I update the email address on my account?"),
        ("Cannot log in", "I reset my password twice and still cannot log in."),
        ("Delete my account", "Please delete my account and the personal data you hold."),
    ),
    "other": (
        ("Newsletter", "Please take me off your newsletter, it comes every day."),
        ("Phone number", "Is there a phone number where I can reach a real person?"),
        ("Wholesale enquiry", "We run a small cafe and would like to talk to someone about trade prices."),
    ),
}
TEMPLATES_PER_CATEGORY = 3

Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class _Calendar:
    day_start: np.ndarray  # local midnight of each day as naive seconds since the epoch
    weekday: np.ndarray  # 0 = Monday
    trend: np.ndarray  # yearly growth, 1.0 on DEMO_START
    period: np.ndarray  # NORMAL, BFCM, DECEMBER or LULL
    order_lift: np.ndarray  # daily orders over a normal day

    @property
    def days(self) -> int:
        return len(self.day_start)


def demo_batch(*, salt: str, scale: float = 1.0, tz: str = "UTC", seed: int = 7) -> Batch:
    """The demo store as one import batch, through the same path real exports take."""
    recipe = f"cspulse-demo v{DEMO_VERSION} seed={seed} scale={scale:g} tz={tz}"
    frames = generate(seed=seed, scale=scale, tz=tz, salt=salt)
    return Batch(f"demo store ({scale:g}x)", sha256_bytes((recipe + salt).encode()), DEMO_SOURCE, "demo", frames)


def generate(*, seed: int = 7, scale: float = 1.0, tz: str = "UTC", salt: str = "demo-salt") -> dict[str, pl.DataFrame]:
    """Returns {"tickets", "orders", "order_lines"} with exactly the columns and dtypes of data.schema.

    Same arguments give identical frames. ``scale`` multiplies volumes linearly; ``tz`` is the shop's time zone
    (the wall clock the seasonality is drawn in); timestamps are naive UTC. ``import_id`` is left null.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    ZoneInfo(tz)  # fail fast on an unknown zone rather than deep inside polars
    rng = np.random.default_rng(seed)
    calendar = _calendar()
    cutoff = int(_local_to_utc(np.array([calendar.day_start[-1] + DAY]), tz)[0]) - 1

    orders = _orders(rng, calendar, scale, tz)
    if not len(orders["created"]):
        raise ValueError(f"scale {scale} is too small to produce any order")
    lines = _order_lines(rng, orders)
    _price_orders(rng, orders, calendar)
    _schedule_fulfilment(rng, orders, calendar)
    tickets = _tickets(rng, calendar, orders, scale, tz)
    _cancel_on_request(rng, orders, tickets, cutoff)
    tickets = _drop_wismo_after_cancellation(tickets, orders)
    _settle_orders(rng, orders, tickets, cutoff)
    _serve_tickets(rng, calendar, tickets, cutoff)
    # its own stream, so adding the survey question left every earlier draw (and test figure) as it was
    tickets["nps"] = _nps(np.random.default_rng((seed, 1)), tickets)
    tickets["tagged"] = np.random.default_rng((seed, 2)).random(len(tickets["created"])) >= UNTAGGED_SHARE
    field_filled = np.random.default_rng((seed, 3)).random(len(tickets["created"])) < ORDER_FIELD_FILLED
    tickets["order_field"] = np.where(field_filled, tickets["order"], -1)

    keys = _customer_keys(np.concatenate([orders["customer"], tickets["customer"]]), salt)
    order_ids = pl.Series(np.arange(len(orders["created"])) + 1001).cast(pl.String)
    return {
        "tickets": _ticket_frame(rng, tickets, orders, lines, order_ids, keys[len(orders["created"]):]),
        "orders": _order_frame(orders, order_ids, keys[: len(orders["created"])]),
        "order_lines": _line_frame(lines, orders, order_ids),
    }


# --- time -----------------------------------------------------------------------------------------------------------
def _calendar() -> _Calendar:
    days = np.arange(np.datetime64(DEMO_START, "D"), np.datetime64(DEMO_END, "D") + 1)
    day_number = days.astype(np.int64)
    months = days.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day_of_month = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    period = np.full(len(days), NORMAL)
    order_lift = np.ones(len(days))
    december = (month == 12) & (day_of_month >= 2) & (day_of_month <= 22)
    lull = (month == 12) & (day_of_month >= 24) & (day_of_month <= 26)
    period[december], order_lift[december] = DECEMBER, DECEMBER_LIFT
    period[lull], order_lift[lull] = LULL, LULL_LIFT
    for black_friday in BLACK_FRIDAYS:  # assigned last: Cyber Monday 2024 falls on December 2
        first = int((np.datetime64(black_friday, "D") - days[0]).astype(np.int64))
        period[first: first + 4], order_lift[first: first + 4] = BFCM, BFCM_LIFT
        order_lift[first - 1] = THANKSGIVING_LIFT
    return _Calendar(
        day_start=day_number * DAY,
        weekday=(day_number + 3) % 7,  # 1970-01-01 was a Thursday
        trend=YEARLY_GROWTH ** (np.arange(len(days)) / 365.25),
        period=period,
        order_lift=order_lift,
    )


def _local_to_utc(local_seconds: np.ndarray, tz: str) -> np.ndarray:
    """Naive wall-clock seconds in ``tz`` to naive UTC seconds; ambiguous times take the earlier instant."""
    if tz == "UTC":
        return local_seconds.astype(np.int64)
    wall = pl.Series("wall", local_seconds.astype(np.int64) * 1_000_000).cast(pl.Datetime("us"))

    def attach(shift_hours: int) -> pl.Expr:
        shifted = pl.col("wall") + pl.duration(hours=shift_hours)
        return shifted.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")

    # a wall time inside a spring-forward gap does not exist: move it past the gap instead of losing the row
    utc = pl.DataFrame([wall]).select(
        pl.coalesce(attach(0), attach(1), attach(2))
        .dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.epoch("s")
    ).to_series()
    if utc.null_count():
        raise ValueError(f"could not place {utc.null_count()} wall-clock times in {tz}")
    return utc.to_numpy()


def _seconds_of_day(rng: np.random.Generator, hour_weights: np.ndarray, n: int) -> np.ndarray:
    hours = rng.choice(24, size=n, p=hour_weights / hour_weights.sum())
    return hours * HOUR + rng.integers(0, HOUR, n)


def _ticket_seconds_of_day(rng: np.random.Generator, weekday: np.ndarray) -> np.ndarray:
    on_weekday = _seconds_of_day(rng, TICKET_HOURS_WEEKDAY, len(weekday))
    on_weekend = _seconds_of_day(rng, TICKET_HOURS_WEEKEND, len(weekday))
    return np.where(weekday >= 5, on_weekend, on_weekday)


def _draw(rng: np.random.Generator, choices: tuple[np.ndarray, np.ndarray], n: int) -> np.ndarray:
    values, shares = choices
    return rng.choice(values, size=n, p=shares / shares.sum())


# --- orders ---------------------------------------------------------------------------------------------------------
def _orders(rng: np.random.Generator, calendar: _Calendar, scale: float, tz: str) -> Columns:
    noise = rng.lognormal(0.0, DAILY_NOISE_SIGMA, calendar.days)
    expected = BASE_ORDERS_PER_DAY * calendar.trend * ORDER_WEEKDAY[calendar.weekday] * calendar.order_lift
    day = np.repeat(np.arange(calendar.days), rng.poisson(expected * noise * scale))
    local = calendar.day_start[day] + _seconds_of_day(rng, ORDER_HOURS, len(day))
    created = _local_to_utc(local, tz)
    by_time = np.argsort(created, kind="stable")  # order numbers follow UTC time, DST gaps included
    customer, first_order, currency = _assign_customers(rng, len(day))
    return {
        "day": day[by_time],
        "created": created[by_time],
        "customer": customer,
        "first_order": first_order,
        "currency": currency,
    }


def _assign_customers(rng: np.random.Generator, n_orders: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer, first-order flag and currency of each order (orders in time order)."""
    candidates = max(n_orders, 1)  # each places at least one order, so this many always suffice
    returning = rng.random(candidates) < REPEAT_CUSTOMER_SHARE
    extra = np.minimum(rng.geometric(EXTRA_ORDERS_P, candidates), MAX_EXTRA_ORDERS)
    orders_each = 1 + returning * extra
    used = int(np.searchsorted(np.cumsum(orders_each), n_orders)) + 1
    customer = rng.permutation(np.repeat(np.arange(used), orders_each[:used]))[:n_orders]
    first_order = np.zeros(n_orders, dtype=bool)
    first_order[np.unique(customer, return_index=True)[1]] = True
    pays_in_euros = rng.random(used) < EUR_CUSTOMER_SHARE
    return customer, first_order, pays_in_euros[customer].astype(np.int64)


def _order_lines(rng: np.random.Generator, orders: Columns) -> Columns:
    n_orders = len(orders["created"])
    per_order = _draw(rng, LINES_PER_ORDER, n_orders)
    order = np.repeat(np.arange(n_orders), per_order)
    starts = np.cumsum(per_order) - per_order
    line_number = np.arange(len(order)) - starts[order] + 1
    popularity = np.array([item[4] for item in CATALOG])
    first_product = rng.choice(len(CATALOG), size=n_orders, p=popularity / popularity.sum())
    steps = np.where(line_number == 1, 0, rng.integers(1, MAX_CATALOG_STEP + 1, len(order)))
    walked = np.cumsum(steps)
    product = (first_product[order] + walked - walked[starts][order]) % len(CATALOG)
    quantity = _draw(rng, QUANTITY, len(order))
    price = _catalog_prices()[orders["currency"][order], product]
    orders["gross"] = np.add.reduceat(price * quantity, starts)
    orders["lines"] = per_order
    orders["first_product"] = first_product
    return {"order": order, "line_number": line_number, "product": product, "quantity": quantity, "price": price}


def _catalog_prices() -> np.ndarray:
    """Cents by currency x product; the EU storefront rounds to .95 prices."""
    usd = np.array([item[3] for item in CATALOG])
    eur = (usd * 92 // 10_000) * 100 + 95
    return np.stack([usd, eur])


def _price_orders(rng: np.random.Generator, orders: Columns, calendar: _Calendar) -> None:
    n = len(orders["created"])
    period = calendar.period[orders["day"]]
    code_share = np.select(
        [period == BFCM, period == DECEMBER, orders["first_order"]],
        [CODE_SHARE_BFCM, CODE_SHARE_DECEMBER, CODE_SHARE_FIRST_ORDER],
        CODE_SHARE_REPEAT,
    )
    loyalty_code = np.where(rng.random(n) < VIP_SHARE_OF_LOYALTY_CODES, VIP20, SAVE15)
    everyday_code = np.where(orders["first_order"], WELCOME10, loyalty_code)
    seasonal_code = np.select([period == BFCM, period == DECEMBER], [BFCM25, HOLIDAY20], everyday_code)
    code = np.where(rng.random(n) < code_share, seasonal_code, NO_CODE)
    discount = np.rint(orders["gross"] * DISCOUNT_RATES[code]).astype(np.int64)
    net = orders["gross"] - discount
    currency = orders["currency"]
    free = (net >= FREE_SHIPPING_FROM_CENTS[currency]) & (rng.random(n) >= EXPRESS_SHARE_ABOVE_THRESHOLD)
    method = np.where(free, FREE_SHIPPING, np.where(rng.random(n) >= EXPRESS_SHARE, STANDARD, EXPRESS))
    shipping = SHIPPING_CENTS[currency, method]
    tax_rate = np.where(currency == 1, _draw(rng, EUR_TAX_RATES, n), _draw(rng, USD_TAX_RATES, n))
    taxes = np.rint((net + shipping) * tax_rate).astype(np.int64)
    orders.update(code=code, discount=discount, method=method, shipping=shipping, taxes=taxes,
                  total=net + shipping + taxes)


def _schedule_fulfilment(rng: np.random.Generator, orders: Columns, calendar: _Calendar) -> None:
    """When each order would ship and arrive; early cancellations never ship."""
    n = len(orders["created"])
    slowdown = FULFIL_SLOWDOWN[calendar.period[orders["day"]]]
    lag_hours = FULFIL_MEDIAN_HOURS * np.exp(FULFIL_SIGMA * rng.standard_normal(n)) * slowdown
    ships = orders["created"] + np.rint(lag_hours * HOUR).astype(np.int64)
    transit = rng.uniform(*TRANSIT_DAYS, n) * DAY
    cancelled_early = rng.random(n) < EARLY_CANCEL_SHARE
    cancel_at = orders["created"] + rng.uniform(0.05, 0.9, n) * np.minimum(lag_hours * HOUR, DAY)
    orders.update(
        lag_hours=lag_hours,
        ships=ships,
        delivered=np.where(cancelled_early, np.inf, ships + transit),
        cancel_at=np.where(cancelled_early, np.rint(cancel_at), np.nan),
    )


# --- tickets --------------------------------------------------------------------------------------------------------
def _tickets(rng: np.random.Generator, calendar: _Calendar, orders: Columns, scale: float, tz: str) -> Columns:
    wismo = _wismo_tickets(rng, calendar, orders)
    contacts = _contact_tickets(rng, calendar, scale)
    tickets = {key: np.concatenate([wismo[key], contacts[key]]) for key in wismo}
    tickets["weekday"] = calendar.weekday[tickets["day"]]
    tickets["second_of_day"] = _ticket_seconds_of_day(rng, tickets["weekday"])
    tickets["created"] = _local_to_utc(calendar.day_start[tickets["day"]] + tickets["second_of_day"], tz)
    _link_contacts_to_orders(rng, tickets, orders)
    _attach_customers(rng, tickets, orders)
    return tickets


def _wismo_tickets(rng: np.random.Generator, calendar: _Calendar, orders: Columns) -> Columns:
    """WISMO ("where is my order") tickets, caused by slow fulfilment, a few days after ordering."""
    lag = orders["lag_hours"]
    share = np.select([lag > 72, lag > 48], [WISMO_SHARE_LATE, WISMO_SHARE_SLOW], WISMO_SHARE_ON_TIME)
    asking = np.flatnonzero((rng.random(len(lag)) < share) & np.isnan(orders["cancel_at"]))
    slow = lag[asking] > 48
    # late parcels: customers ask once the promised 2-3 days pass; on-time ones: when the carrier stalls
    wait_days = np.where(slow, 2 + rng.poisson(1.2, len(asking)), 4 + rng.poisson(2.0, len(asking)))
    day = orders["day"][asking] + wait_days
    weekday = calendar.weekday[np.minimum(day, calendar.days - 1)]
    waits_for_monday = (weekday >= 5) & (rng.random(len(asking)) < WEEKEND_WISMO_WAITS_FOR_MONDAY)
    day = day + np.where(waits_for_monday, 7 - weekday, 0)
    inside = day < calendar.days
    return {
        "day": day[inside],
        "category": np.full(int(inside.sum()), SHIPPING_STATUS),
        "order": asking[inside],
        "reason": np.full(int(inside.sum()), -1),
    }


def _contact_tickets(rng: np.random.Generator, calendar: _Calendar, scale: float) -> Columns:
    """All other contacts follow the day's shop traffic, so they peak with orders."""
    expected = (CONTACTS_PER_ORDER * BASE_ORDERS_PER_DAY * calendar.trend * TICKET_WEEKDAY[calendar.weekday]
                * calendar.order_lift * PEAK_CONTACT_BOOST[calendar.period] * scale)
    day = np.repeat(np.arange(calendar.days), rng.poisson(expected))
    reason = np.empty(len(day), dtype=np.int64)
    for period, weights in enumerate(REASON_WEIGHTS):  # four periods, each with its own mix
        in_period = calendar.period[day] == period
        reason[in_period] = rng.choice(len(REASONS), size=int(in_period.sum()), p=weights)
    return {"day": day, "category": REASON_CATEGORY[reason], "order": np.full(len(day), -1), "reason": reason}


def _link_contacts_to_orders(rng: np.random.Generator, tickets: Columns, orders: Columns) -> None:
    """Name the order a contact is about: the order placed (or delivered) one sampled lag before the ticket.

    Picking the latest order before ``ticket - lag`` weights orders by how busy the shop was at the time.
    """
    created_sorted = orders["created"]
    delivered_order = np.argsort(orders["delivered"], kind="stable")
    delivered_sorted = orders["delivered"][delivered_order]
    for index, reason in enumerate(REASONS):
        rows = np.flatnonzero(tickets["reason"] == index)
        lag = rng.exponential(reason.lag_hours * HOUR, len(rows)) + 10 * MINUTE
        target = tickets["created"][rows] - lag
        if reason.anchor == CREATED:
            candidate = np.searchsorted(created_sorted, target, side="right") - 1
        else:
            position = np.searchsorted(delivered_sorted, target, side="right") - 1
            candidate = np.where(position >= 0, delivered_order[np.maximum(position, 0)], -1)
        names_order = (rng.random(len(rows)) < reason.order_share) & (candidate >= 0)
        tickets["order"][rows[names_order]] = candidate[names_order]


def _attach_customers(rng: np.random.Generator, tickets: Columns, orders: Columns) -> None:
    linked = tickets["order"] >= 0
    customer = np.where(linked, orders["customer"][np.maximum(tickets["order"], 0)], -1)
    orderless = np.flatnonzero(~linked)
    n_customers = int(orders["customer"].max()) + 1
    prospect = rng.random(len(orderless)) < PROSPECT_SHARE_OF_ORDERLESS
    known = orders["customer"][rng.integers(0, len(orders["customer"]), len(orderless))]
    # prospects get fresh numbers after the buyers; some write more than once
    fresh = n_customers + rng.integers(0, max(int(0.8 * prospect.sum()), 1), len(orderless))
    customer[orderless] = np.where(prospect, fresh, known)
    tickets["customer"] = customer


def _cancel_on_request(rng: np.random.Generator, orders: Columns, tickets: Columns, cutoff: int) -> None:
    """Cancellation requests that arrive before the order ships cancel it, most of the time."""
    cancel_category = TICKET_CATEGORIES.index("order_cancel")
    delivered_reasons = [i for i, reason in enumerate(REASONS) if reason.anchor == DELIVERED]
    order = tickets["order"]
    has_delivery_contact = np.zeros(len(orders["created"]), dtype=bool)
    has_delivery_contact[order[np.isin(tickets["reason"], delivered_reasons) & (order >= 0)]] = True
    rows = np.flatnonzero((tickets["category"] == cancel_category) & (order >= 0))
    target = order[rows]
    ships = orders["ships"][target]
    requested = tickets["created"][rows]
    granted = ((requested < ships - 30 * MINUTE) & ~has_delivery_contact[target]
               & np.isnan(orders["cancel_at"][target]) & (rng.random(len(rows)) < CANCEL_SHARE_AFTER_REQUEST))
    when = np.minimum(requested + rng.uniform(5, 180, len(rows)) * MINUTE, ships - MINUTE)
    cancel_at = np.full(len(orders["created"]), np.inf)
    np.minimum.at(cancel_at, target[granted], np.rint(when[granted]))
    requested_cancel = np.isfinite(cancel_at) & np.isnan(orders["cancel_at"])
    orders["cancel_at"] = np.where(requested_cancel, cancel_at, orders["cancel_at"])
    orders["cancel_at"] = np.where(orders["cancel_at"] <= cutoff, orders["cancel_at"], np.nan)


def _drop_wismo_after_cancellation(tickets: Columns, orders: Columns) -> Columns:
    order = np.maximum(tickets["order"], 0)
    cancelled_before = (tickets["order"] >= 0) & (orders["cancel_at"][order] < tickets["created"])
    stale = (tickets["category"] == SHIPPING_STATUS) & cancelled_before
    return {key: values[~stale] for key, values in tickets.items()}


def _settle_orders(rng: np.random.Generator, orders: Columns, tickets: Columns, cutoff: int) -> None:
    """Payment, fulfilment and refund state as of the end of the demo window."""
    n = len(orders["created"])
    created = orders["created"].astype(float)
    cancelled = ~np.isnan(orders["cancel_at"])
    recent = created > cutoff - 2 * DAY
    pending = recent & ~cancelled & (rng.random(n) < PENDING_SHARE_OF_RECENT)
    shipped = ~cancelled & ~pending & (orders["ships"] <= cutoff)
    fulfilled_at = np.where(shipped, orders["ships"], np.nan)
    waiting = ~shipped & ~cancelled & (orders["lines"] > 1) & (created < cutoff - DAY)
    partial = waiting & (rng.random(n) < PARTIAL_SHARE_OF_WAITING)

    refund_at, full_refund = _refunds(rng, orders, tickets, fulfilled_at, cutoff)
    refunded = ~np.isnan(refund_at)
    cancel_refund = cancelled & (rng.random(n) >= VOID_SHARE_OF_CANCELLED)
    partial_amount = np.clip(np.rint(orders["total"] * rng.uniform(0.1, 0.6, n)), 1, orders["total"])
    orders["refunded"] = np.select(
        [cancel_refund, refunded & full_refund, refunded], [orders["total"], orders["total"], partial_amount], 0
    ).astype(np.int64)
    orders["financial"] = np.select(
        [cancel_refund, cancelled, pending, refunded & full_refund, refunded],
        [REFUNDED, VOIDED, PENDING, REFUNDED, PARTIALLY_REFUNDED],
        PAID,
    )
    orders["fulfillment"] = np.select([shipped, partial], [FULFILLED, PARTIAL], UNFULFILLED)
    orders["fulfilled_at"] = fulfilled_at
    orders["updated"] = np.fmax(np.fmax(created, fulfilled_at), np.fmax(orders["cancel_at"], refund_at))


def _refunds(
    rng: np.random.Generator, orders: Columns, tickets: Columns, fulfilled_at: np.ndarray, cutoff: int
) -> tuple[np.ndarray, np.ndarray]:
    """Refund time (NaN when none) and whether it is a full refund; complaints make refunds far likelier."""
    n = len(orders["created"])
    complaint_categories = [TICKET_CATEGORIES.index(c) for c in ("refund", "return", "damaged_item", "wrong_item")]
    complaint = np.isin(tickets["category"], complaint_categories) & (tickets["order"] >= 0)
    complained_at = np.full(n, np.inf)
    np.minimum.at(complained_at, tickets["order"][complaint], tickets["created"][complaint].astype(float))
    complained = np.isfinite(complained_at)
    share = np.where(complained, REFUND_SHARE_AFTER_COMPLAINT, BASE_REFUND_SHARE)
    refunds = ~np.isnan(fulfilled_at) & (rng.random(n) < share)
    after = np.where(complained, complained_at, orders["delivered"])
    refund_at = np.rint(np.fmax(after, fulfilled_at) + rng.uniform(2 * HOUR, 4 * DAY, n))
    refund_at = np.where(refunds & (refund_at <= cutoff), refund_at, np.nan)
    return refund_at, rng.random(n) < FULL_REFUND_SHARE


# --- support work ---------------------------------------------------------------------------------------------------
def _serve_tickets(rng: np.random.Generator, calendar: _Calendar, tickets: Columns, cutoff: int) -> None:
    n = len(tickets["created"])
    category = tickets["category"]
    off_hours = (tickets["second_of_day"] < OPEN_FROM) | (tickets["second_of_day"] >= OPEN_UNTIL)
    load = np.clip(_daily_load(calendar, tickets["day"]), 0.6, 8.0)[tickets["day"]]
    channel = _channels(rng, off_hours, load)
    priority = _priorities(rng, category)

    first_reply = _first_reply_seconds(rng, channel, priority, tickets, load)
    replied = rng.random(n) >= NO_REPLY_SHARE
    first_reply = np.where(replied, first_reply, np.nan)
    handle = _handle_seconds(rng, category, channel, load)
    reopens = np.where(rng.random(n) < REOPEN_SHARE, 1 + (rng.random(n) < SECOND_REOPEN_SHARE), 0)
    reopen_extra = np.where(reopens > 0, np.rint(REOPEN_EXTRA_MEDIAN_HOURS * HOUR * rng.lognormal(0, 0.8, n)), 0)
    awaiting_customer = np.where(rng.random(n) < AWAITING_CUSTOMER_SHARE,
                                 np.rint(AWAITING_CUSTOMER_MEDIAN_HOURS * HOUR * rng.lognormal(0, 1.0, n)), 0)
    first_resolution = np.nan_to_num(first_reply) + handle + awaiting_customer
    full_resolution = first_resolution + reopen_extra
    # requester wait counts new, open and on-hold time, not the time the ticket is pending on the customer
    requester_wait = np.nan_to_num(first_reply) + handle + reopen_extra * rng.uniform(0.3, 0.8, n)

    created = tickets["created"].astype(float)
    solved = created + full_resolution <= cutoff
    reply_seen = replied & (created + np.nan_to_num(first_reply) <= cutoff)
    replies = np.where(replied, _draw(rng, REPLY_COUNTS, n), 0)
    replies = np.where(reopens > 0, np.clip(replies + reopens, 2, 6), replies)

    tickets.update(
        channel=channel,
        priority=priority,
        first_reply=np.where(reply_seen, first_reply, np.nan),
        first_resolution=np.where(solved, first_resolution, np.nan),
        full_resolution=np.where(solved, full_resolution, np.nan),
        requester_wait=np.where(solved, requester_wait, np.nan),
        solved=solved,
        replies=np.where(solved, replies, reply_seen.astype(np.int64)),
        reopens=np.where(solved, reopens, 0),
    )
    tickets["status"] = _statuses(rng, tickets, cutoff)
    tickets["updated"] = _ticket_updated_at(rng, tickets, cutoff)
    tickets["group"], tickets["assignee"] = _assignment(rng, category, priority, tickets["status"])
    tickets["score"], tickets["rating"] = _satisfaction(rng, tickets)


def _channels(rng: np.random.Generator, off_hours: np.ndarray, load: np.ndarray) -> np.ndarray:
    n = len(off_hours)
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARES)
    live = (channel == PHONE) | (channel == CHAT)
    # nobody answers the phone at night and most chat widgets turn into an email form; on overloaded days
    # callers reach voicemail and chats queue into "leave us a message"
    closed = off_hours & ((channel == PHONE) | (rng.random(n) < OFF_HOURS_CHAT_TO_EMAIL))
    overflow = rng.random(n) < np.clip(1.0 - OVERFLOW_FROM_LOAD / load, 0.0, MAX_LIVE_OVERFLOW)
    return np.where(live & (closed | overflow), EMAIL, channel)


def _priorities(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    pressing = np.isin(category, [TICKET_CATEGORIES.index(c) for c in PRESSING])
    usual = rng.choice(len(PRIORITIES), size=len(category), p=PRIORITY_SHARES)
    raised = rng.choice(len(PRIORITIES), size=len(category), p=PRIORITY_SHARES_PRESSING)
    return np.where(pressing, raised, usual)


def _daily_load(calendar: _Calendar, ticket_day: np.ndarray) -> np.ndarray:
    """Tickets of each day over what the team is staffed for: a normal day of that weekday, grown with the trend."""
    arrived = np.bincount(ticket_day, minlength=calendar.days).astype(float)
    per_trend = arrived / calendar.trend
    usual = np.ones(7)
    for weekday in range(7):  # staffing is planned per weekday from normal days
        normal_days = (calendar.period == NORMAL) & (calendar.weekday == weekday)
        usual[weekday] = max(float(np.median(per_trend[normal_days])), 1.0)
    staffed_for = usual[calendar.weekday] * calendar.trend * STAFFING_BOOST[calendar.period]
    return arrived / staffed_for


def _first_reply_seconds(
    rng: np.random.Generator, channel: np.ndarray, priority: np.ndarray, tickets: Columns, load: np.ndarray
) -> np.ndarray:
    asynchronous = (channel == EMAIL) | (channel == SOCIAL)
    typical = FIRST_REPLY_MEDIAN_MINUTES[channel] * MINUTE * np.exp(FIRST_REPLY_SIGMA[channel]
                                                                     * rng.standard_normal(len(channel)))
    weekend = np.where(asynchronous & (tickets["weekday"] >= 5), WEEKEND_ASYNC_SLOWDOWN, 1.0)
    second = tickets["second_of_day"]
    until_open = np.select([second < OPEN_FROM, second >= OPEN_UNTIL], [OPEN_FROM - second, DAY + OPEN_FROM - second])
    # a busy day lengthens the whole queue, the overnight backlog included
    pressure = load**LOAD_EXPONENT * weekend * PRIORITY_SPEED[priority]
    queued = (np.where(asynchronous, until_open, 0) + typical) * pressure
    return np.maximum(np.rint(queued), 20.0)


def _handle_seconds(
    rng: np.random.Generator, category: np.ndarray, channel: np.ndarray, load: np.ndarray
) -> np.ndarray:
    median_hours = np.array([HANDLE_MEDIAN_HOURS[slug] for slug in TICKET_CATEGORIES])[category]
    live = np.where((channel == CHAT) | (channel == PHONE), LIVE_HANDLE_FACTOR, 1.0)
    spread = np.exp(HANDLE_SIGMA * rng.standard_normal(len(category)))
    return np.rint(median_hours * HOUR * spread * live * np.sqrt(load))


def _statuses(rng: np.random.Generator, tickets: Columns, cutoff: int) -> np.ndarray:
    n = len(tickets["created"])
    solved_at = tickets["created"] + np.nan_to_num(tickets["full_resolution"])
    settled = tickets["solved"] & (solved_at <= cutoff - CLOSE_AFTER_DAYS * DAY)
    waiting = rng.choice([OPEN, PENDING_STATUS, HOLD], size=n, p=WAITING_STATUS_SHARES)
    untouched = np.where(rng.random(n) < NEW_SHARE_OF_UNTOUCHED, NEW, OPEN)
    unsolved = np.where(np.isnan(tickets["first_reply"]), untouched, waiting)
    return np.select([settled, tickets["solved"]], [CLOSED, SOLVED], unsolved)


def _ticket_updated_at(rng: np.random.Generator, tickets: Columns, cutoff: int) -> np.ndarray:
    created = tickets["created"].astype(float)
    touched = created + np.rint(rng.uniform(1, 90, len(created)) * MINUTE)
    last_seen = np.minimum(np.fmax(touched, created + tickets["first_reply"]), cutoff)
    return np.where(tickets["solved"], created + tickets["full_resolution"], np.maximum(last_seen, created))


def _assignment(
    rng: np.random.Generator, category: np.ndarray, priority: np.ndarray, status: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n = len(category)
    escalated = np.isin(category, [TICKET_CATEGORIES.index(c) for c in ESCALATED]) | (priority == URGENT)
    tier2 = rng.random(n) < np.where(escalated, TIER2_SHARE_ESCALATED, TIER2_SHARE)
    tier1_agent = rng.choice(len(TIER1_AGENT_WEIGHTS), size=n, p=TIER1_AGENT_WEIGHTS / TIER1_AGENT_WEIGHTS.sum())
    tier2_agent = len(AGENTS) - TIER2_AGENTS + rng.integers(0, TIER2_AGENTS, n)
    agent = np.where(tier2, tier2_agent, tier1_agent)
    return tier2.astype(np.int64), np.where(status == NEW, -1, agent)


def _nps(rng: np.random.Generator, tickets: Columns) -> np.ndarray:
    """A 0-10 "would you recommend us" answer from some of the customers who rated: the satisfied lean 8-10."""
    rated = ~np.isnan(tickets["score"])
    asked = rated & (rng.random(len(rated)) < NPS_SHARE_OF_RATED)
    satisfied = np.nan_to_num(tickets["score"]) >= 4
    answer = np.where(satisfied, _draw(rng, NPS_SATISFIED, len(rated)), _draw(rng, NPS_UNSATISFIED, len(rated)))
    return np.where(asked, answer, np.nan)


def _satisfaction(rng: np.random.Generator, tickets: Columns) -> tuple[np.ndarray, np.ndarray]:
    """Score (NaN: no answer) and rating code (-1: not offered, 0: offered, 1: good, 2: bad)."""
    n = len(tickets["created"])
    usual = FIRST_REPLY_MEDIAN_MINUTES[tickets["channel"]] * MINUTE
    doublings = np.clip(np.log2(np.nan_to_num(tickets["first_reply"] / usual, nan=1.0)), 0.0, 3.5)
    broken = np.isin(tickets["category"], [TICKET_CATEGORIES.index(c) for c in ("damaged_item", "wrong_item")])
    good_share = (GOOD_BASE - GOOD_DROP_PER_DOUBLING * doublings - GOOD_DROP_REOPENED * (tickets["reopens"] > 0)
                  - GOOD_DROP_BROKEN * broken)
    good_share = np.where(np.isnan(tickets["first_reply"]), GOOD_WITHOUT_REPLY, good_share)
    offered = tickets["solved"] & (rng.random(n) < SURVEY_SHARE)
    answered = offered & (rng.random(n) < SURVEY_RESPONSE_SHARE)
    good = rng.random(n) < good_share
    score = np.where(good, _draw(rng, GOOD_SCORES, n), _draw(rng, BAD_SCORES, n)).astype(float)
    rating = np.select([answered & good, answered, offered], [1, 2, 0], -1)
    return np.where(answered, score, np.nan), rating


# --- frames ---------------------------------------------------------------------------------------------------------
def _customer_keys(customer: np.ndarray, salt: str) -> pl.Series:
    """Hash each distinct customer once, then spread the keys over the rows.

    Same digest as data.privacy.customer_key(); the demo emails are already normalised, so the salt's hash
    state is reused.
    """
    distinct, row_to_distinct = np.unique(customer, return_inverse=True)
    salted = hashlib.sha256(salt.encode("utf-8"))

    def key_of(number: int) -> int:
        digest = salted.copy()
        digest.update(b"customer%d@example.com" % (number + 1))
        return key_from_digest(digest)

    keys = pl.Series([key_of(number) for number in distinct.tolist()], dtype=pl.UInt64)
    return keys.gather(row_to_distinct)


def _timestamps(seconds: np.ndarray) -> pl.Series:
    """Naive UTC datetimes from epoch seconds, NaN becoming null."""
    as_float = pl.Series(np.asarray(seconds, dtype=float), nan_to_null=True)
    return (as_float * 1_000_000).cast(pl.Int64).cast(pl.Datetime("us"))


def _money(cents: np.ndarray) -> pl.Series:
    return (pl.Series(np.asarray(cents, dtype=np.int64)).cast(pl.Decimal(18, 2)) / 100).cast(pl.Decimal(18, 2))


def _labels(values: tuple[str | None, ...], codes: np.ndarray) -> pl.Series:
    """Strings by code; a negative code means null."""
    return _gather_or_null(pl.Series(values, dtype=pl.String), codes)


def _gather_or_null(values: pl.Series, index: np.ndarray) -> pl.Series:
    """values[index], null where the index is negative."""
    with_null = pl.concat([values, pl.Series([None], dtype=values.dtype)])
    return with_null.gather(np.where(index < 0, len(values), index))


def _minutes(seconds: np.ndarray) -> pl.Series:
    return pl.Series(seconds / MINUTE, nan_to_null=True)


def _conform(columns: dict[str, pl.Series], table: Table, height: int) -> pl.DataFrame:
    """Schema order and types; columns not given (import_id, business-hour durations) are null."""
    frame = pl.DataFrame({name: series.alias(name) for name, series in columns.items()}, height=height)
    return frame.select(
        (pl.col(name) if name in columns else pl.lit(None)).cast(POLARS_TYPES[sql_type]).alias(name)
        for name, sql_type in table.types.items()
    )


def _order_frame(orders: Columns, order_ids: pl.Series, keys: pl.Series) -> pl.DataFrame:
    n = len(orders["created"])
    columns = {
        "source": pl.Series([DEMO_SOURCE]).gather(np.zeros(n, dtype=np.int64)),
        "order_id": order_ids,
        "created_at": _timestamps(orders["created"]),
        "updated_at": _timestamps(orders["updated"]),
        "customer_key": keys,
        "currency": _labels(CURRENCIES, orders["currency"]),
        "gross_sales": _money(orders["gross"]),
        "discounts": _money(orders["discount"]),
        "shipping": _money(orders["shipping"]),
        "taxes": _money(orders["taxes"]),
        "total": _money(orders["total"]),
        "refunded_amount": _money(orders["refunded"]),
        "financial_status": _labels(FINANCIAL_STATUSES, orders["financial"]),
        "fulfillment_status": _labels(FULFILLMENT_STATUSES, orders["fulfillment"]),
        "fulfilled_at": _timestamps(orders["fulfilled_at"]),
        "cancelled_at": _timestamps(orders["cancel_at"]),
        "shipping_method": _labels(SHIPPING_METHODS, orders["method"]),
        "discount_code": _labels(DISCOUNT_CODES, orders["code"]),
    }
    return _conform(columns, ORDERS, n)


def _line_frame(lines: Columns, orders: Columns, order_ids: pl.Series) -> pl.DataFrame:
    n = len(lines["order"])
    product = lines["product"]
    columns = {
        "source": pl.Series([DEMO_SOURCE]).gather(np.zeros(n, dtype=np.int64)),
        "order_id": order_ids.gather(lines["order"]),
        "line_number": pl.Series(lines["line_number"]),
        "sku": _labels(tuple(item[0] for item in CATALOG), product),
        "product_name": _labels(tuple(item[1] for item in CATALOG), product),
        "vendor": _labels(tuple(item[2] for item in CATALOG), product),
        "quantity": pl.Series(lines["quantity"]),
        "price": _money(lines["price"]),
        "currency": _labels(CURRENCIES, orders["currency"][lines["order"]]),
    }
    return _conform(columns, ORDER_LINES, n)


def _ticket_frame(
    rng: np.random.Generator, tickets: Columns, orders: Columns, lines: Columns, order_ids: pl.Series,
    keys: pl.Series,
) -> pl.DataFrame:
    n = len(tickets["created"])
    created = tickets["created"].astype(float)
    solved_at = np.where(tickets["solved"], created + np.nan_to_num(tickets["full_resolution"]), np.nan)
    subject, description = _ticket_text(rng, tickets, orders, order_ids)
    columns = {
        "source": pl.Series([DEMO_SOURCE]).gather(np.zeros(n, dtype=np.int64)),
        "created_at": _timestamps(created),
        "updated_at": _timestamps(tickets["updated"]),
        "first_reply_at": _timestamps(created + tickets["first_reply"]),
        "first_solved_at": _timestamps(created + tickets["first_resolution"]),
        "solved_at": _timestamps(solved_at),
        "status": _labels(STATUSES, tickets["status"]),
        "channel": _labels(CHANNELS, tickets["channel"]),
        "priority": _labels(PRIORITIES, tickets["priority"]),
        # what the store's agents tagged; some tickets go untagged, and CS Pulse categorises those from their text
        "category_exported": _labels(TICKET_CATEGORIES, np.where(tickets["tagged"], tickets["category"], -1)),
        "group_name": _labels(GROUPS, tickets["group"]),
        "assignee": _labels(AGENTS, tickets["assignee"]),
        "subject": subject,
        "description": description,
        "customer_key": keys,
        "order_id": _gather_or_null(order_ids, tickets["order_field"]),
        "agent_replies": pl.Series(tickets["replies"]),
        "reopens": pl.Series(tickets["reopens"]),
        "first_reply_minutes": _minutes(tickets["first_reply"]),
        "first_resolution_minutes": _minutes(tickets["first_resolution"]),
        "full_resolution_minutes": _minutes(tickets["full_resolution"]),
        "requester_wait_minutes": _minutes(tickets["requester_wait"]),
        "satisfaction_rating": _labels(("offered", "good", "bad"), tickets["rating"]),
        "satisfaction_score": pl.Series(tickets["score"], nan_to_null=True),
        "nps_score": pl.Series(tickets["nps"], nan_to_null=True),
    }
    frame = _conform(columns, TICKETS, n).sort("created_at", maintain_order=True)
    return frame.with_columns(
        ticket_id=pl.format("T{}", pl.int_range(100_001, 100_001 + pl.len(), dtype=pl.Int64))
    )


def _ticket_text(
    rng: np.random.Generator, tickets: Columns, orders: Columns, order_ids: pl.Series
) -> tuple[pl.Series, pl.Series]:
    """Subject and description from per-category templates; {ref} is " #<order>" or empty, {product} a product."""
    n = len(tickets["created"])
    template = tickets["category"] * TEMPLATES_PER_CATEGORY + rng.integers(0, TEMPLATES_PER_CATEGORY, n)
    subjects = tuple(subject for slug in TICKET_CATEGORIES for subject, _ in TEMPLATES[slug])
    descriptions = tuple(description for slug in TICKET_CATEGORIES for _, description in TEMPLATES[slug])
    linked = tickets["order"] >= 0
    product = np.where(linked, orders["first_product"][np.maximum(tickets["order"], 0)],
                       rng.integers(0, len(CATALOG), n))
    frame = pl.DataFrame({
        "subject": _labels(subjects, template),
        "description": _labels(descriptions, template),
        "product": _labels(tuple(item[1] for item in CATALOG), product),
        "order_id": _gather_or_null(order_ids, tickets["order"]),
    })
    reference = pl.concat_str(pl.lit(" #"), pl.col("order_id")).fill_null("")
    filled = frame.select(
        pl.col(column)
        .str.replace_all("{ref}", reference, literal=True)
        .str.replace_all("{product}", pl.col("product"), literal=True)
        for column in ("subject", "description")
    )
    return filled["subject"], filled["description"]
