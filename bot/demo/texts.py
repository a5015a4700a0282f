"""The words of the demo traffic: customer lines per topic and tone, agent replies, notes, comments."""

from __future__ import annotations

# Negative lines carry a clearly negative word and positive lines a clearly positive one, so any
# lexicon-based scorer puts them past the +-0.1 sentiment thresholds.
CUSTOMER_LINES = {
    "delivery": {
        "negative": (
            "My parcel is {n} weeks late, this is awful 😡",
            "Order {order} still hasn't arrived. Worst delivery service ever!",
            "Terrible courier again, my {product} is {n} days late",
            "Where is my {product}?? {n} weeks of waiting, absolutely horrible",
        ),
        "neutral": (
            "Where is my order {order}? Tracking hasn't changed since Monday",
            "When will my {product} be delivered?",
            "Can I change the delivery address for {order}?",
        ),
        "positive": ("My {product} arrived a day early, great job!", "Fast delivery, thanks so much!"),
    },
    "refund": {
        "negative": (
            "Still no refund after {n} weeks, this is ridiculous and unfair",
            "Worst refund process ever, I want my money back for {order}",
        ),
        "neutral": ("How long does a refund take?", "I returned the {product}, when do I get the refund?"),
        "positive": ("Refund received, great service!", "Thanks for the quick refund, excellent support"),
    },
    "login": {
        "negative": (
            "I can't log in to my account, this is so frustrating",
            "Your app is terrible, the login fails every time 😡",
        ),
        "neutral": ("How do I reset my password?", "The login code never arrives by SMS"),
        "positive": ("Password reset worked, thanks, great help!",),
    },
    "billing": {
        "negative": (
            "You charged me twice for {order}, this is awful",
            "Wrong invoice again, terrible billing",
        ),
        "neutral": ("Can I get an invoice for order {order}?", "Which payment methods do you accept?"),
        "positive": ("Billing issue sorted, thank you, great work!",),
    },
    "praise": {
        "positive": (
            "Thanks so much, great service!",
            "Love my new {product}, amazing quality ❤️",
            "Best support team ever, you are wonderful",
            "Great experience, happy customer!",
        ),
    },
    "defect": {
        "negative": (
            "My {product} stopped working after {n} days, really disappointed",
            "The {product} arrived broken, awful quality",
        ),
        "neutral": ("Does the {product} come with a charger?",),
    },
    "pricing": {
        "negative": ("Why did the price of the {product} go up? That is a terrible deal",),
        "neutral": ("Do you have a discount code for the {product}?", "What does shipping to Canada cost?"),
    },
    "cancellation": {
        "negative": ("Cancel my subscription now, worst service I have used",),
        "neutral": ("How do I cancel my subscription?", "Can I cancel order {order} before it ships?"),
    },
}
FOLLOW_UPS = {
    "negative": ("Still waiting for an answer, this is awful 😡", "Hello?? Terrible response time"),
    "neutral": ("Any update on this?", "I sent the details in a DM", "Order number is {order}"),
    "positive": ("Thanks, that worked perfectly!", "Great, thank you so much!"),
}
AGENT_LINES = (
    "Sorry {name}, checking your order {order} now.",
    "Hi {name}, could you DM us your order number?",
    "Thanks {name}, I've passed this to our team and will update you today.",
    "Done! {name}, you should see the change within 24 hours.",
    "Hi {name}, thanks for the kind words, we will share them with the team!",
    "I've opened a case for you, {name}; reference {order}.",
)
QUICK_REPLIES = {
    "greeting": "Hi there, thanks for reaching out! How can we help?",
    "apology": "We're really sorry about this. Let me look into it right away.",
    "tracking-link": "Here is your tracking link: https://track.example.com/{order}",
    "refund-policy": "Refunds are paid within 5 business days: https://example.com/refunds",
}
TOPIC_QUICK_REPLY = {"delivery": "tracking-link", "refund": "refund-policy"}
NOTES = (
    "Checked the carrier portal: parcel stuck at the hub.",
    "Customer is a VIP, be extra careful.",
    "Asked finance to double-check the charge.",
)
SURVEY_COMMENTS = {
    True: ("Quick and friendly", "Great help, thanks"),
    False: ("Took far too long", "Not solved"),
}
PRODUCTS = ("headphones", "coffee maker", "backpack", "smart watch", "desk lamp", "phone case")
