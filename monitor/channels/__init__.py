"""Escalation channels: how a message reaches one contact.

One interface (base.Notifier.send), one module per way of reaching a person: webhook.py (signed
HTTP POST), email.py (SMTP), sms_http.py (an SMS provider's HTTP API), sms_modem.py (a GSM modem
on a serial port). registry.py picks the channel by Contact.channel. Each raises NotifyFailed,
marked permanent when retrying cannot help, and escalation.py retries or dead-letters.
"""
