"""Alert rules and notifications (Telegram, WhatsApp, e-mail, webhooks): a later issue."""
