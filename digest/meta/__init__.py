"""Read what a page says about itself: the headline as the outlet printed it, and the outlet's name.

`headline.py` picks the headline among a page's candidates (HTML metadata and headings, or the lines
of a plain-text page) with a small logistic model shipped as `headline_model.json` (trained and
measured out-of-fold by `bench/headlines.py --fit`); `outlet.py` names the outlet from what the
page declares (og:site_name, JSON-LD publisher, application-name, a `Outlet:` header, the site
suffix of its title), else its registered domain. Neither imports another stage.
"""
