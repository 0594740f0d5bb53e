"""The bell and the beheerder's failures page through the web app, fed by the real worker."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from engine.mail import MailError
from engine.model import AdminAction, MailDelivery
from engine.worker import Worker
from tests.websupport import Site, post


class RefusingMailer:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refuse = True

    def send(self, mail: object) -> None:
        if self.refuse:
            raise MailError("SMTP 550", permanent=True)
        self.sent.append(getattr(mail, "message_id", ""))

    def delivered(self, message_id: str) -> bool | None:
        return None


def _worker(site: Site, mailer: RefusingMailer) -> Worker:
    return Worker(site.app.extensions["regeling.db"].writer, mailer, clock=site.clock)


def test_bell_shows_unread_count_and_marks_read(site: Site) -> None:
    mailer = RefusingMailer()
    mailer.refuse = False
    _worker(site, mailer).run_once()  # the demo cases' hand-overs
    client = site.client("ccv-adviseur-2")
    page = client.get("/taken").text
    assert 'id="bel"' in page and "ongelezen" in page
    listing = client.get("/meldingen").text
    assert site.cases["burgemeester"] in listing
    assert post(client, "/meldingen/gelezen").status_code == 302
    assert "ongelezen" not in client.get("/taken").text


def test_failed_mail_is_listed_for_the_beheerder_and_retried_with_a_reason(site: Site) -> None:
    mailer = RefusingMailer()
    _worker(site, mailer).run_once()
    beheerder = site.client("beheerder")
    page = beheerder.get("/beheer/storingen").text
    assert "SMTP 550" in page and site.cases["burgemeester"] in page
    with site.session() as session:
        failed = session.scalars(select(MailDelivery).where(MailDelivery.status == "failed")).first()
        assert failed is not None
    no_reason = post(beheerder, f"/beheer/storingen/{failed.id}/opnieuw", {"reden": ""})
    assert no_reason.status_code == 422 and "Geef een reden op." in no_reason.text
    assert (
        post(beheerder, f"/beheer/storingen/{failed.id}/opnieuw", {"reden": "Mailserver hersteld"}).status_code == 302
    )
    mailer.refuse = False
    site.clock.advance(timedelta(seconds=1))
    _worker(site, mailer).run_once()
    assert mailer.sent.count(failed.message_id) == 1
    with site.session() as session:
        action = session.scalars(select(AdminAction)).one()
        assert (action.actor, action.reason) == ("beheerder", "Mailserver hersteld")
