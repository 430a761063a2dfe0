"""``pvegateway seed capture``: a real cluster, read through its API, as a seed for the mock.

Read-only by construction (:mod:`.client` sends GETs only, plus the login a user and password need),
with proxy mode's TLS and credential rules; secrets never reach the file (:mod:`.scrub`).
"""
