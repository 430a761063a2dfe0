"""Ticket and CSRF signing: PVE's formats, the 2 h window, and the verification cache's limits."""

from __future__ import annotations

from pvegateway.backends.mock.tickets import MAX_AGE, Signer

NOW = 1_750_000_000


def test_a_cached_ticket_still_expires() -> None:
    signer = Signer(b"secret")
    ticket = signer.ticket("root@pam", NOW)
    assert signer.verify_ticket(ticket, NOW + 10) == "root@pam"  # now cached
    assert signer.verify_ticket(ticket, NOW + MAX_AGE + 1) is None


def test_a_ticket_signed_with_another_secret_is_refused_even_after_a_good_one() -> None:
    mine, theirs = Signer(b"secret"), Signer(b"other")
    assert mine.verify_ticket(mine.ticket("root@pam", NOW), NOW) == "root@pam"
    assert mine.verify_ticket(theirs.ticket("root@pam", NOW), NOW) is None


def test_csrf_is_bound_to_its_user_and_window() -> None:
    signer = Signer(b"secret")
    token = signer.csrf("alice@pve", NOW)
    assert signer.verify_csrf(token, "alice@pve", NOW + 1)
    assert not signer.verify_csrf(token, "bob@pve", NOW + 1)
    assert not signer.verify_csrf(token, "alice@pve", NOW + MAX_AGE + 1)

