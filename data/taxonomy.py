"""The default ecommerce complaint taxonomy (Gorgias' intents, see shared docs KPIS.md, plus the categories real
customer messages need: bench/labels/README.md): slug -> label, in the order of data/taxonomy.toml."""

CATEGORIES: dict[str, str] = {
    "refund": "Refund request or status",
    "return": "Return request or status",
    "exchange": "Exchange",
    "order_cancel": "Order cancellation",
    "shipping_change": "Shipping change",
    "order_change": "Order change",
    "wrong_item": "Wrong item",
    "damaged_item": "Damaged item",
    "product_quality": "Poor quality or not as described",
    "shipping_status": "Where is my order",
    "payment": "Payment or billing",
    "account": "Account and sign-in",
    "website_app": "Website or app problem",
    "discount": "Discount or promo code",
    "product_question": "Product question",
    "feedback": "Feedback",
    "other": "Other",
    "uncategorised": "Uncategorised",
}

CHANNELS: tuple[str, ...] = ("email", "chat", "phone", "social", "web", "other")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
