"""Every way through the regeling diagrams, as data (see steps.py).

Each Path ends at an end event of the main process ``regeling``; together they take every branch of every
diagram (regeling, behandeling, advisering, pkvw, verstrekking, uitvoering, bezwaar) at least once.
"""

from __future__ import annotations

from datetime import timedelta

from tests.processes.steps import Advance, Complete, ExpectReady, Message, Path

B, C, W, V = "Bestuurder", "CCV", "Werkgever", "BVA"

MAATREGELEN = [
    {
        "domein": "wonen",
        "categorie": "elektronisch",
        "omschrijving": "Alarmsysteem met doormelding naar meldkamer",
        "geschatte_kosten": 3500,
    },
    {
        "domein": "wonen",
        "categorie": "fysiek",
        "omschrijving": "Losstaande brievenbus aan de erfgrens",
        "geschatte_kosten": 450,
    },
    {
        "domein": "digitaal",
        "categorie": "digitaal",
        "omschrijving": "Online vindbaarheid opschonen (adres, geboortedatum)",
        "geschatte_kosten": 800,
    },
    {
        "domein": "verplaatsen",
        "categorie": "organisatorisch_bewustwording",
        "omschrijving": "Training veilig reizen",
        "geschatte_kosten": 1200,
    },
]


# Who is told what from aanmelding to a vastgesteld advies (the first part of every full round).
ADVIES_MELDINGEN = (
    (C, "aanmelding_ontvangen"),
    (B, "aanmelding_bevestigd"),
    (W, "input_organisatie_gevraagd"),
    (C, "input_organisatie_ontvangen"),
    (B, "woningscan_gepland"),
    (V, "conceptadvies_ter_vaststelling"),
    (B, "advies_vastgesteld"),
)


# ----------------------------------------------------------------------------------------------- steps
def aanmelding(functie: str = "wethouder", ambtsstatus: str = "in_ambt", acuut: bool = False) -> Complete:
    data = {
        "naam": "Synthetische Bestuurder",
        "functie": functie,
        "ambtsstatus": ambtsstatus,
        "organisatie_type": "waterschap"
        if functie in ("dijkgraaf", "lid_dagelijks_bestuur", "lid_algemeen_bestuur")
        else "gemeente",
        "organisatie_naam": "Waterschap Voorbeeld"
        if functie in ("dijkgraaf", "lid_dagelijks_bestuur", "lid_algemeen_bestuur")
        else "Gemeente Voorbeeld",
        "datum_benoeming": "2024-03-01",
        "telefoon_prive": "0600000000",
        "email_prive": "bestuurder@voorbeeld.invalid",
        "woonadres": "Synthetischestraat 1, 9999 ZZ Nergenshuizen",
        "ontheffing_woonplaatsvereiste": False,
        "acute_dreiging": acuut,
        "toestemming_contact_organisatie": True,
        "toestemming_delen_advies": True,
    }
    if acuut:
        data["urgentie_reden"] = "Dreigbrief ontvangen op huisadres; aangifte gedaan."
    return Complete("aanmelding", B, data)


def advisering_tot_concept(pkvw_status: str = "geldig_certificaat") -> list:
    scan = {
        "datum_woningscan": "2024-04-15",
        "huishouden": "Partner en twee kinderen (8 en 11)",
        "woningtype": "twee_onder_een_kap",
        "eigendom": "koop",
        "bevindingen_woning": "Brievenbus in de voordeur; achterom onverlicht.",
        "online_vindbaarheid": "Adres vindbaar via KvK-inschrijving partner.",
        "verplaatsingen": "Vast woon-werkpatroon met eigen auto.",
        "werk_bevindingen": "Publieke agenda toont avondafspraken.",
        "pkvw_status": pkvw_status,
        "woningscan_rapport": "doc-woningscan-001",
    }
    if pkvw_status == "geldig_certificaat":
        scan.update(pkvw_certificaatnummer="PKVW-2019-12345", pkvw_certificaatdatum="2019-06-01")
    else:
        scan.update(
            pkvw_tekortkomingen="Achterdeur zonder SKG**-cilinder; keukenraam zonder inbraakwerend hang- en sluitwerk.",
            pkvw_kostenraming=1450,
        )
    return [
        Complete(
            "contact_organisatie",
            C,
            {
                "contactpersoon_organisatie": "Secretaris-directeur",
                "datum_contact": "2024-03-20",
                "datum_gesprek_organisatie": "2024-03-27",
            },
        ),
        Complete(
            "input_organisatie",
            W,
            {
                "lokaal_dreigingsbeeld": "Toegenomen intimidatie rond dijkversterking.",
                "bekende_incidenten": "Twee dreigende e-mails in 2023.",
                "eigen_maatregelen_organisatie": "Protocol agressie en geweld; meldpunt integriteit.",
            },
        ),
        Complete(
            "intakeverslag",
            C,
            {
                "intakeverslag_samenvatting": "Verhoogd risico door publieke rol in dossier X.",
                "intakeverslag_document": "doc-intake-001",
            },
        ),
        Complete("woningscan", C, scan),
        Complete(
            "conceptadvies",
            C,
            {"maatregelen": MAATREGELEN, "conceptadvies_toelichting": "Vier maatregelen over drie domeinen."},
        ),
    ]


def vaststellen(uitzondering: str = "niet_gevraagd") -> Complete:
    data = {
        "besluit_bva": "vaststellen",
        "pkvw_uitzondering": uitzondering,
        "vaststellingsdatum": "2024-05-01",
        "beveiligingsadvies_document": "doc-advies-001",
    }
    if uitzondering != "niet_gevraagd":
        data["pkvw_uitzondering_motivering"] = "Rijksmonument: PKVW-eisen niet uitvoerbaar zonder vergunning."
    return Complete("vaststellen_advies", V, data)


def advisering(pkvw_status: str = "geldig_certificaat", uitzondering: str = "niet_gevraagd") -> list:
    return advisering_tot_concept(pkvw_status) + [vaststellen(uitzondering)]


def pkvw_bewijs() -> Complete:
    return Complete(
        "pkvw_bewijs_uploaden",
        B,
        {
            "pkvw_bewijs": "doc-pkvw-001",
            "pkvw_bewijs_type": "certificaat",
            "pkvw_afgiftedatum": "2024-07-01",
            "pkvw_bedrijf": "Slotenmaker BV",
            "herstel_eigen_kosten_bevestigd": True,
        },
    )


def kiezen(*aanvaard: bool) -> Complete:
    keuze = []
    for maatregel, ja in zip(MAATREGELEN, aanvaard, strict=True):
        item = {"omschrijving": maatregel["omschrijving"], "aanvaard": ja}
        if not ja:
            item["reden_afwijzing"] = "Niet nodig in onze situatie."
        keuze.append(item)
    return Complete("maatregelen_aanvaarden", B, {"maatregelen_keuze": keuze})


def formele_toets(uitkomst: str = "ok") -> Complete:
    data = {
        "identiteit_en_functie_bevestigd": True,
        "woonplek_in_gebied_of_ontheffing": True,
        "pkvw_bewijs_akkoord": uitkomst == "ok",
        "formele_toets_uitkomst": uitkomst,
    }
    if uitkomst != "ok":
        data["gevraagde_informatie"] = "Kopie PKVW-certificaat ontbreekt."
    return Complete("formele_toets", W, data)


def besluit(route: str = "in_natura", nummer: str = "DB-2024-0117") -> Complete:
    return Complete(
        "verstrekkingsbesluit",
        W,
        {
            "besluitnummer": nummer,
            "besluitdatum": "2024-06-01",
            "mandaat_referentie": "Mandaatbesluit DB 2024-02",
            "verstrekkingsroute": route,
            "kostenplaats": "6110-beveiliging",
            "rechtsmiddelenclausule_opgenomen": True,
            "besluit_document": "doc-besluit-001",
        },
    )


def in_natura(n: int) -> list:
    steps: list = [ExpectReady(("maatregel_bestellen",) * n)]
    for i in range(n):
        steps.append(
            Complete(
                "maatregel_bestellen",
                W,
                {"leverancier": "Beveiliging Midden BV", "opdrachtnummer": f"PO-{i + 1}", "besteldatum": "2024-06-10"},
            )
        )
    for i in range(n):
        steps.append(
            Complete(
                "maatregel_opleveren",
                W,
                {
                    "opleverdatum": "2024-07-01",
                    "opleverrapport": f"doc-oplevering-{i + 1}",
                    "werkelijke_kosten": 1000 + i,
                },
            )
        )
    for _ in range(n):
        steps.append(Complete("levering_bevestigen", B, {"levering_bevestigd": True}))
    return steps


def declaratie(bedrag: float, goedgekeurd: bool = True) -> list:
    return [
        Complete(
            "declaratie_indienen",
            B,
            {"declaratie_bedrag": bedrag, "declaratie_datum": "2024-07-15", "declaratie_bewijs": "doc-factuur-001"},
        ),
        Complete(
            "declaratie_beoordelen",
            W,
            {
                "declaratie_goedgekeurd": goedgekeurd,
                **({} if goedgekeurd else {"declaratie_motivering": "Betaalbewijs ontbreekt."}),
            },
        ),
    ]


BEZWAARTERMIJN_VERSTREKEN = Advance(timedelta(weeks=6, days=1))


def registratie(waarde: float) -> Complete:
    return Complete(
        "financiele_registratie",
        W,
        {
            "economische_waarde": waarde,
            "fiscale_behandeling": "eindheffing_art31_lid4",
            "salarisadministratie_referentie": "SAL-778",
            "bzk_compensatie_van_toepassing": False,
        },
    )


def aftreden(dreiging: bool = False) -> list:
    return [
        Message("aftreden", W, {"datum_einde_ambt": "2027-01-31"}),
        ExpectReady(("afbouw_na_aftreden",)),
        Complete(
            "afbouw_na_aftreden",
            W,
            {
                "datum_einde_ambt": "2027-01-31",
                "lopende_bestellingen_afgerond": True,
                "diensten_opgezegd": True,
                "einddatum_diensten": "2027-04-30",
                "op_te_zeggen_contracten": "Alarmopvolging meldkamer",
                "dreiging_na_aftreden": dreiging,
                "fiscale_afwikkeling_gemeld": True,
            },
        ),
    ]


def volledige_ronde_in_natura() -> list:
    """Advice with a valid PKVW certificate, 2 of 4 measures in kind, no objection, registration."""
    return [
        *advisering(),
        kiezen(True, True, False, False),
        formele_toets(),
        besluit("in_natura"),
        *in_natura(2),
        ExpectReady(()),
        BEZWAARTERMIJN_VERSTREKEN,
        registratie(2001),
    ]


# ----------------------------------------------------------------------------------------------- paths
PATHS: tuple[Path, ...] = (
    Path(
        name="niet_in_aanmerking_raadslid",
        description="D0: een raadslid valt niet onder de regeling → bestuurder geïnformeerd, einde.",
        steps=(aanmelding(functie="raadslid"),),
        end_event="end_niet_in_aanmerking",
        expect_data={"in_aanmerking": False, "reden_in_aanmerking": "volksvertegenwoordiger_niet_onder_regeling"},
        notifications=((B, "niet_in_aanmerking"),),
    ),
    Path(
        name="niet_in_aanmerking_afgetreden",
        description="D0: een afgetreden burgemeester heeft geen nieuwe aanspraak (art. 2.9 lid 5a).",
        steps=(aanmelding(functie="burgemeester", ambtsstatus="afgetreden"),),
        end_event="end_niet_in_aanmerking",
        expect_data={"in_aanmerking": False, "reden_in_aanmerking": "niet_meer_in_ambt"},
        notifications=((B, "niet_in_aanmerking"),),
    ),
    Path(
        name="in_natura_zonder_bezwaar_dan_aftreden",
        description="Wethouder, geldig PKVW-certificaat, 2 van 4 maatregelen in natura (parallelle uitvoering), "
        "bezwaartermijn verstrijkt, registratie, lopende fase, aftreden.",
        steps=(
            aanmelding(),
            ExpectReady(("contact_organisatie",)),
            *volledige_ronde_in_natura(),
            ExpectReady(()),
            *aftreden(),
        ),
        end_event="end_beeindigd_na_aftreden",
        expect_data={
            "urgent": False,
            "pkvw_resultaat": "certificaat",
            "behandeling_uitkomst": "afgerond",
            "zaak_status": "lopend",
            "bezwaar_uitkomst": "geen_bezwaar",
            "diensten_opgezegd": True,
            "uitvoering_resultaten": [
                {
                    "omschrijving": MAATREGELEN[0]["omschrijving"],
                    "route": "in_natura",
                    "status": "geleverd",
                    "kosten": 1000,
                },
                {
                    "omschrijving": MAATREGELEN[1]["omschrijving"],
                    "route": "in_natura",
                    "status": "geleverd",
                    "kosten": 1001,
                },
            ],
        },
        notifications=(
            *ADVIES_MELDINGEN,
            (B, "maatregelen_kiezen"),
            (W, "verstrekking_aangevraagd"),
            (B, "verstrekkingsbesluit_genomen"),
            (B, "levering_bevestigen"),
            (B, "levering_bevestigen"),
            (W, "financiele_registratie"),
            (B, "verstrekking_afgerond"),
            (W, "aftreden_afbouwen"),
            (B, "afbouw_afgerond"),
        ),
    ),
    Path(
        name="acuut_sla_herinneringen_aftreden_tijdens_advisering",
        description="D0b acute dreiging: verwijzing naar politie/Stelsel B&B en urgent; "
        "SLA-herinneringen contact (P2D), "
        "advies (P8W) en vaststelling (P8W); aftreden tijdens de vaststelling onderbreekt de behandeling; "
        "dreiging houdt aan na aftreden.",
        steps=(
            aanmelding(functie="burgemeester", acuut=True),
            Advance(timedelta(days=3)),
            ExpectReady(("contact_organisatie",)),
            *advisering_tot_concept()[:4],
            Advance(timedelta(weeks=8, days=1)),
            advisering_tot_concept()[4],
            Advance(timedelta(weeks=8, days=1)),
            ExpectReady(("vaststellen_advies",)),
            *aftreden(dreiging=True),
        ),
        end_event="end_beeindigd_na_aftreden",
        expect_data={"urgent": True, "acute_dreiging": True, "aftreden_melding": {"datum_einde_ambt": "2027-01-31"}},
        notifications=(
            (B, "acute_dreiging_politie_stelsel_bewaken_beveiligen"),
            (V, "urgente_aanmelding"),
            (C, "aanmelding_ontvangen"),
            (B, "aanmelding_bevestigd"),
            (C, "sla_contact_herinnering"),
            (W, "input_organisatie_gevraagd"),
            (C, "input_organisatie_ontvangen"),
            (B, "woningscan_gepland"),
            (C, "sla_advies_herinnering"),
            (V, "conceptadvies_ter_vaststelling"),
            (V, "sla_vaststelling_herinnering"),
            (W, "aftreden_afbouwen"),
            (B, "afbouw_afgerond_politie_stelsel_bewaken_beveiligen"),
        ),
    ),
    Path(
        name="bva_terug_pkvw_uitzondering_geen_maatregelen",
        description="BVA stuurt het conceptadvies terug naar het CCV; daarna vastgesteld met PKVW-uitzondering (D4) "
        "voor een niet-conforme woning; de bestuurder weigert alle maatregelen → einde.",
        steps=(
            aanmelding(functie="gedeputeerde"),
            *advisering_tot_concept("niet_conform"),
            Complete(
                "vaststellen_advies",
                V,
                {
                    "besluit_bva": "terug_naar_ccv",
                    "pkvw_uitzondering": "niet_gevraagd",
                    "toelichting_bva": "Domein verplaatsen ontbreekt.",
                },
            ),
            ExpectReady(("conceptadvies",)),
            Complete("conceptadvies", C, {"maatregelen": MAATREGELEN}),
            vaststellen("verleend"),
            ExpectReady(("maatregelen_aanvaarden",)),
            kiezen(False, False, False, False),
        ),
        end_event="end_geen_maatregelen",
        expect_data={
            "pkvw_toets": "uitzondering",
            "pkvw_resultaat": "uitzondering",
            "behandeling_uitkomst": "geen_maatregelen",
            "aanvaarde_maatregelen": [],
            "afgewezen_maatregelen": MAATREGELEN,
        },
        notifications=(
            (C, "aanmelding_ontvangen"),
            (B, "aanmelding_bevestigd"),
            (W, "input_organisatie_gevraagd"),
            (C, "input_organisatie_ontvangen"),
            (B, "woningscan_gepland"),
            (V, "conceptadvies_ter_vaststelling"),
            (C, "conceptadvies_terug"),
            (V, "conceptadvies_ter_vaststelling"),
            (B, "advies_vastgesteld"),
            (B, "maatregelen_kiezen"),
            (B, "zaak_gesloten_geen_maatregelen"),
        ),
    ),
    Path(
        name="pkvw_herstel_declaratie_bezwaar_gegrond",
        description="Dijkgraaf; woning niet conform en uitzondering geweigerd → herstel op eigen kosten "
        "met herinnering "
        "na 3 maanden; aanvullende informatie bij de formele toets en Awb-escalatie na 8 weken; "
        "declaratieroute met eerst afwijzing; bezwaar gegrond met escalatie beslistermijn en herzien besluit; "
        "registratie, lopende fase, aftreden.",
        steps=(
            aanmelding(functie="dijkgraaf"),
            *advisering("niet_conform", "geweigerd"),
            ExpectReady(("pkvw_bewijs_uploaden",)),
            Advance(timedelta(days=93)),
            ExpectReady(("pkvw_bewijs_uploaden",)),
            pkvw_bewijs(),
            kiezen(False, True, False, False),
            formele_toets("aanvullende_informatie"),
            ExpectReady(("informatie_aanvullen",)),
            Complete(
                "informatie_aanvullen",
                B,
                {"aanvullende_informatie": "Certificaat bijgevoegd.", "aanvullend_document": "doc-pkvw-001"},
            ),
            Advance(timedelta(weeks=8, days=1)),
            formele_toets("ok"),
            besluit("declaratie"),
            ExpectReady(("declaratie_indienen",)),
            Message("bezwaar_ingediend", B, {"bezwaarschrift": "doc-bezwaar-001"}),
            ExpectReady(("beslissen_op_bezwaar", "declaratie_indienen")),
            *declaratie(450, goedgekeurd=False),
            *declaratie(450),
            Advance(timedelta(weeks=6, days=1)),
            Complete(
                "beslissen_op_bezwaar",
                W,
                {
                    "beslissing_op_bezwaar": "gegrond",
                    "motivering_bezwaar": "Route in natura had gekund.",
                    "datum_beslissing_bezwaar": "2024-09-01",
                    "adviescommissie_ingeschakeld": False,
                },
            ),
            Complete(
                "besluit_herzien",
                W,
                {"herzien_besluitnummer": "DB-2024-0201", "herziening_toelichting": "Route gewijzigd."},
            ),
            registratie(450),
            *aftreden(),
        ),
        end_event="end_beeindigd_na_aftreden",
        expect_data={
            "pkvw_toets": "herstel",
            "pkvw_resultaat": "hersteld",
            "bezwaar_uitkomst": "gegrond",
            "bezwaar": {"bezwaarschrift": "doc-bezwaar-001"},
            "verstrekkingsroute": "declaratie",
            "uitvoering_resultaten": [
                {
                    "omschrijving": MAATREGELEN[1]["omschrijving"],
                    "route": "declaratie",
                    "status": "vergoed",
                    "kosten": 450,
                }
            ],
        },
        notifications=(
            *ADVIES_MELDINGEN,
            (B, "pkvw_herstel_eigen_kosten"),
            (B, "pkvw_herinnering"),
            (C, "pkvw_bewijs_ontvangen"),
            (B, "maatregelen_kiezen"),
            (W, "verstrekking_aangevraagd"),
            (B, "aanvullende_informatie_gevraagd"),
            (W, "aanvullende_informatie_ontvangen"),
            (W, "awb_beslistermijn_verstreken"),
            (B, "verstrekkingsbesluit_genomen"),
            (B, "maatregel_declareren"),
            (W, "bezwaar_ontvangen"),
            (W, "declaratie_ingediend"),
            (B, "declaratie_afgewezen"),
            (W, "declaratie_ingediend"),
            (W, "beslistermijn_bezwaar_escalatie"),
            (B, "beslissing_op_bezwaar_gegrond"),
            (W, "financiele_registratie"),
            (B, "verstrekking_afgerond"),
            (W, "aftreden_afbouwen"),
            (B, "afbouw_afgerond"),
        ),
    ),
    Path(
        name="heradvies_bij_verhuizing_tijdens_pkvw_herstel",
        description="Tijdens het PKVW-herstel verhuist de bestuurder: heradvies onderbreekt de behandeling en start de "
        "advisering opnieuw; nieuwe woning heeft een certificaat; de bestuurder weigert alle maatregelen.",
        steps=(
            aanmelding(functie="lid_dagelijks_bestuur"),
            *advisering("niet_conform"),
            ExpectReady(("pkvw_bewijs_uploaden",)),
            Message("heradvies_aangevraagd", B, {"reden": "verhuizing"}),
            ExpectReady(("contact_organisatie",)),
            *advisering(),
            kiezen(False, False, False, False),
        ),
        end_event="end_geen_maatregelen",
        expect_data={
            "heradvies": {"reden": "verhuizing"},
            "pkvw_resultaat": "certificaat",
            "behandeling_uitkomst": "geen_maatregelen",
        },
    ),
    Path(
        name="pkvw_gesloten_na_12_maanden",
        description="Woning niet conform, geen uitzondering; herinnering na 3 maanden, "
        "sluiting na 12 maanden zonder PKVW-bewijs.",
        steps=(
            aanmelding(functie="commissaris_van_de_koning"),
            *advisering("niet_conform"),
            Advance(timedelta(days=93)),
            ExpectReady(("pkvw_bewijs_uploaden",)),
            Advance(timedelta(days=280)),
        ),
        end_event="end_gesloten_zonder_pkvw",
        expect_data={
            "pkvw_toets": "herstel",
            "pkvw_resultaat": "gesloten",
            "behandeling_uitkomst": "gesloten_zonder_pkvw",
        },
        notifications=(
            *ADVIES_MELDINGEN,
            (B, "pkvw_herstel_eigen_kosten"),
            (B, "pkvw_herinnering"),
            (B, "pkvw_gesloten"),
        ),
    ),
    Path(
        name="bezwaar_ongegrond_herevaluatie_na_4_jaar",
        description="Waarnemend burgemeester; één maatregel in natura met bestelherinnering na 4 weken; "
        "bezwaar ongegrond; "
        "in de lopende fase start na 4 jaar de herevaluatie; aftreden tijdens de nieuwe advisering.",
        steps=(
            aanmelding(functie="waarnemend_burgemeester"),
            *advisering(),
            kiezen(True, False, False, False),
            formele_toets(),
            besluit("in_natura"),
            Message("bezwaar_ingediend", B, {"bezwaarschrift": "doc-bezwaar-002"}),
            ExpectReady(("beslissen_op_bezwaar", "maatregel_bestellen")),
            Advance(timedelta(weeks=4, days=1)),
            *in_natura(1)[1:],
            Complete(
                "beslissen_op_bezwaar",
                W,
                {
                    "beslissing_op_bezwaar": "ongegrond",
                    "motivering_bezwaar": "Advies is gevolgd.",
                    "datum_beslissing_bezwaar": "2024-07-01",
                },
            ),
            registratie(1000),
            ExpectReady(()),
            Advance(timedelta(days=4 * 366)),
            ExpectReady(("contact_organisatie",)),
            *aftreden(),
        ),
        end_event="end_beeindigd_na_aftreden",
        expect_data={"bezwaar_uitkomst": "ongegrond", "heradvies": {"reden": "periodieke_herevaluatie"}},
    ),
    Path(
        name="heradvies_in_lopende_fase_tweede_ronde",
        description="Volledige ronde; in de lopende fase vraagt de bestuurder heradvies aan (gewijzigde dreiging); "
        "tweede volledige ronde met drie maatregelen en een ongegrond bezwaar dat vóór de uitvoering is beslist "
        "(toetst dat gegevens van de eerste ronde de parallelle takken niet overschrijven); daarna aftreden.",
        steps=(
            aanmelding(functie="lid_dagelijks_bestuur"),
            *volledige_ronde_in_natura(),
            Message("heradvies_aangevraagd", B, {"reden": "gewijzigde_dreiging"}),
            *advisering(),
            kiezen(True, True, True, False),
            formele_toets(),
            besluit("in_natura", "DB-2025-0042"),
            Message("bezwaar_ingediend", B, {"bezwaarschrift": "doc-bezwaar-003"}),
            Complete(
                "beslissen_op_bezwaar",
                W,
                {
                    "beslissing_op_bezwaar": "ongegrond",
                    "motivering_bezwaar": "Advies is gevolgd.",
                    "datum_beslissing_bezwaar": "2025-07-01",
                },
            ),
            *in_natura(3),
            registratie(3003),
            *aftreden(),
        ),
        end_event="end_beeindigd_na_aftreden",
        expect_data={
            "heradvies": {"reden": "gewijzigde_dreiging"},
            "besluitnummer": "DB-2025-0042",
            "bezwaar_uitkomst": "ongegrond",
            "bezwaar": {"bezwaarschrift": "doc-bezwaar-003"},
            "uitvoering_resultaten": [
                {"omschrijving": m["omschrijving"], "route": "in_natura", "status": "geleverd", "kosten": 1000 + i}
                for i, m in enumerate(MAATREGELEN[:3])
            ],
        },
    ),
)
