"""Delivery: sending a digest by SMTP and keeping the outbox's record of what went to whom.

    smtp.py     the one SMTP client set-up, one copy per recipient, the one password resolver
    ledger.py   the outbox's own record of each digest (`digest.delivery` beside `digest.html`)
    send.py     the delivery loop: send what waits, recording each copy before and after it goes out
"""
