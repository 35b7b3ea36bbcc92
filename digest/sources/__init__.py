"""Sources: subscriptions (feeds, Maildir newsletters) that fill the inbox without a person.

    feeds.py    RSS/Atom (feedparser) and JSON Feed bytes -> Feed of Entry records
    http.py     the careful HTTP client: caps, timeouts, redirects by hand, per-host limits, robots.txt
    safety.py   which addresses may be connected to (checked after DNS, on every hop)
    page.py     a fetched page or a feed's full text -> inbox HTML carrying the entry's metadata
    store.py    ETag/Last-Modified and every entry ever seen (sources.sqlite in the state folder)
    maildir.py  newsletters from a Maildir folder -> .eml files
    imap.py     newsletters from an IMAP folder over TLS (read-only, BODY.PEEK)
    opml.py     import/export of subscription lists
    config.py   reading and appending [[sources]] in digest.toml
    fetch.py    one source, every source: the fetch-sources flow's work
"""
