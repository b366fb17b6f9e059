"""The assistant's Django side: conversations kept per user (or guest, or API caller), the
question-and-answer actions every adapter uses, the chat page and the policy-text pages.
The engine itself is medcode.assistant (pure, no Django)."""
