"""The default ecommerce complaint taxonomy (Gorgias' intents, see shared docs KPIS.md): slug -> label."""

CATEGORIES: dict[str, str] = {
    "shipping_status": "Where is my order",
    "shipping_change": "Shipping change",
    "order_cancel": "Order cancellation",
    "order_change": "Order change",
    "damaged_item": "Damaged item",
    "wrong_item": "Wrong item",
    "refund": "Refund request or status",
    "return": "Return request or status",
    "exchange": "Exchange",
    "discount": "Discount or promo code",
    "product_question": "Product question",
    "feedback": "Feedback",
    "other": "Other",
    "uncategorised": "Uncategorised",
}

CHANNELS: tuple[str, ...] = ("email", "chat", "phone", "social", "web", "other")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
