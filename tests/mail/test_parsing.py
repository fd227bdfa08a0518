"""Reading incoming mail: what an agent would see of each message of the corpus, and the limits
that keep a hostile message from doing harm.

Pure tests: no database, no network. Each file of ``corpus/`` is a message composed for the
case it is named after.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import os
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comptoir.mail import parsing
from comptoir.mail.parsing import (
    FORWARDED_MARKER,
    MAX_MESSAGE_BYTES,
    MAX_PARTS,
    Address,
    MessageTooLarge,
    ParsedMessage,
    UnreadableMessage,
    html_to_text,
    parse_message,
    split_quoted,
)

CORPUS = Path(__file__).parent / "corpus"
UNREADABLE = {"empty.eml", "headerless.eml"}


def parse(name: str) -> ParsedMessage:
    return parse_message((CORPUS / name).read_bytes())


def names(message: ParsedMessage) -> list[str]:
    return [attachment.filename for attachment in message.attachments]


# --------------------------------------------------------------------------------------------
# Every file of the corpus


def test_the_corpus_has_a_test_for_every_file():
    files = sorted(path.name for path in CORPUS.glob("*.eml"))
    assert len(files) >= 40
    source = Path(__file__).read_text()
    assert [name for name in files if f'"{name}"' not in source] == []


@pytest.mark.parametrize(
    "name", sorted(path.name for path in CORPUS.glob("*.eml") if path.name not in UNREADABLE)
)
def test_no_corpus_message_yields_a_multi_line_header_or_an_unsafe_file_name(name):
    message = parse(name)

    single_line = [message.subject, message.message_id, message.list_id, message.auto_submitted]
    single_line += [message.precedence, message.auto_response_suppress, *message.x_loop]
    single_line += [message.sender.email, message.sender.name, *message.delivered_to]
    single_line += [
        part for a in (*message.to, *message.cc, *message.reply_to) for part in (a.email, a.name)
    ]
    assert [value for value in single_line if "\r" in value or "\n" in value] == []
    for attachment in message.attachments:
        assert attachment.filename
        assert "/" not in attachment.filename and "\\" not in attachment.filename
    assert "\r" not in message.full_text
    assert message.text in message.full_text
    assert message.size == (CORPUS / name).stat().st_size


# --------------------------------------------------------------------------------------------
# Charsets


def test_a_plain_ascii_message_is_read_whole():
    message = parse("plain_ascii.eml")

    assert message.subject == "Printer on floor 3 is jammed"
    assert message.sender == Address(email="alice@example.com", name="Alice Martin")
    assert message.to == (Address(email="support@example.com", name="IT Support"),)
    assert message.message_id == "20250304091500.1234@mail.example.com"
    assert message.date == datetime(2025, 3, 4, 14, 15, tzinfo=UTC)
    assert message.text.startswith("Hello,\n\nThe printer on floor 3 shows")
    assert message.text.endswith("Thanks,\nAlice")
    assert message.html == ""
    assert message.attachments == ()
    assert not message.is_auto
    assert message.defects == ()


def test_a_utf8_message_keeps_its_accents_and_emoji():
    message = parse("utf8_body.eml")

    assert message.subject == "Écran noir après la mise à jour"
    assert message.sender.name == "Zoë Lefèvre"
    assert "Ça bloque toute l'équipe comptabilité. 😕" in message.text
    assert message.defects == ()


def test_a_latin1_message_is_read_in_its_declared_charset():
    message = parse("iso_8859_1_declared.eml")

    assert message.subject == "Problème d'accès au réseau"
    assert message.sender.name == "Renée Garçon"
    assert "Je n'arrive plus à accéder au réseau depuis le bâtiment B." in message.text
    assert message.defects == ()


def test_windows_1252_bytes_declared_as_utf8_are_still_read_and_noted():
    message = parse("wrong_charset_utf8_declared_cp1252_bytes.eml")

    assert message.text == "L’imprimante du 2ème étage affiche « erreur 50 » — coût estimé 200 €."
    assert any("not valid utf-8" in defect for defect in message.defects)


def test_an_unknown_charset_falls_back_to_utf8_and_is_noted():
    message = parse("unknown_charset.eml")

    assert message.text == "The VPN drops every hour — café wifi or office, same thing."
    assert any("unknown charset 'x-unknown'" in defect for defect in message.defects)


def test_a_body_without_charset_is_read_as_utf8():
    message = parse("no_charset.eml")

    assert message.subject == "Badge refusé"
    assert message.text == "Mon badge est refusé à l'entrée du parking depuis lundi."
    assert any("no charset declared" in defect for defect in message.defects)


# --------------------------------------------------------------------------------------------
# Encoded headers and file names


def test_q_encoded_subject_and_sender_name_are_decoded():
    message = parse("rfc2047_q_subject_and_name.eml")

    assert message.subject == "Mot de passe expiré – accès bloqué"
    assert message.sender == Address(
        email="francois.berangere@example.fr", name="François Bérangère"
    )
    assert message.text == "Mon mot de passe a expiré ce matin et je ne peux plus me connecter."


def test_b_encoded_subject_and_sender_name_are_decoded():
    message = parse("rfc2047_b_subject_and_name.eml")

    assert message.subject == "Écran cassé au siège"
    assert message.sender.name == "Jérôme Château"
    assert message.text == "L'écran de mon poste est fendu."


def test_an_rfc2231_file_name_split_over_two_lines_is_joined_and_decoded():
    message = parse("rfc2231_long_filename.eml")

    (report,) = message.attachments
    assert report.filename == "Rapport détaillé de l’incident réseau du 11 mars 2025.pdf"
    assert report.content_type == "application/pdf"
    assert report.data.startswith(b"%PDF-1.4")
    assert not report.inline


# --------------------------------------------------------------------------------------------
# Bodies


def test_an_html_only_message_gets_a_readable_text():
    message = parse("html_only.eml")

    assert message.full_text == (
        "Hi team,\n\n"
        "Outlook keeps asking for my password — every five minutes.\n\n"
        "- Restarted\n"
        "- Re-entered the password\n\n"
        "See the status page (https://status.example.com/incidents/12)."
    )
    assert message.html.startswith("<html><head><style>")


def test_multipart_alternative_gives_the_plain_text_and_keeps_the_html():
    message = parse("multipart_alternative.eml")

    assert message.text == "Please order a laptop for our new hire, starting Monday."
    assert message.html.strip() == (
        "<div>Please order a laptop for our <i>new hire</i>, starting Monday.</div>"
    )
    assert message.attachments == ()


def test_scripts_stay_in_the_raw_html_but_never_reach_the_text():
    message = parse("html_with_script.eml")

    assert "<script>" in message.html  # whoever shows it sanitises it
    assert message.text == "Please pay the attached invoice.\n\nOpen invoice"
    assert "document.cookie" not in message.full_text
    assert "javascript" not in message.full_text
    assert "alert" not in message.full_text
    assert "display: none" not in message.full_text


def test_an_image_referenced_by_cid_is_an_inline_attachment():
    message = parse("inline_image_cid.eml")

    (image,) = message.attachments
    assert image.filename == "image001.png"
    assert image.content_type == "image/png"
    assert image.content_id == "screenshot.01@example.com"
    assert image.inline
    assert image.data.startswith(b"\x89PNG")
    assert 'src="cid:screenshot.01@example.com"' in message.html
    assert message.text == "This is the error I get:\n\n[error]"


def test_a_forwarded_message_is_attached_and_its_text_follows_the_note():
    message = parse("forwarded_rfc822.eml")

    (forwarded,) = message.attachments
    assert forwarded.filename == "Printer on floor 3.eml"
    assert forwarded.content_type == "message/rfc822"
    assert parse_message(forwarded.data).subject == "Printer on floor 3"
    assert message.full_text == (
        "FYI, see the message below from Alice.\n\n"
        f"{FORWARDED_MARKER}\n"
        "From: Alice Martin <alice@example.com>\n"
        "Date: Thu, 13 Mar 2025 17:45:00 +0000\n"
        "Subject: Printer on floor 3\n"
        "To: Eve Adams <eve@example.com>\n\n"
        "The printer on floor 3 is jammed again."
    )
    assert message.text == message.full_text  # a forward is not quoted history


requires_tnefparse = pytest.mark.skipif(
    parsing._tnefparse is None,
    reason="tnefparse is not installed, so winmail.dat is kept as it is "
    "(test_winmail_dat_is_kept_as_it_is_without_tnefparse covers that case)",
)


@requires_tnefparse
def test_winmail_dat_is_unpacked_into_its_files_and_body():
    message = parse("winmail_dat.eml")

    assert names(message) == ["backup.txt", "chart.png"]
    assert [a.content_type for a in message.attachments] == ["text/plain", "image/png"]
    assert message.attachments[0].data == b"02:00 job started\n02:13 disk full\n"
    assert message.text == "The backup job failed again, logs attached."


def test_winmail_dat_is_kept_as_it_is_without_tnefparse(monkeypatch):
    monkeypatch.setattr(parsing, "_tnefparse", None)

    message = parse("winmail_dat.eml")

    (winmail,) = message.attachments
    assert winmail.filename == "winmail.dat"
    assert winmail.content_type == "application/ms-tnef"
    assert winmail.data.startswith(b"\x78\x9f\x3e\x22")  # the TNEF signature


def test_other_renderings_in_an_alternative_are_dropped_but_an_invite_is_kept():
    message = parse("alternative_with_amp_and_calendar.eml")

    assert message.text == "Server room visit on Thursday at 10:00."
    assert "<b>Thursday</b>" in message.html and "amp4email" not in message.html
    (invite,) = message.attachments
    assert invite.filename == "attachment.ics"
    assert invite.content_type == "text/calendar"
    assert invite.data.startswith(b"BEGIN:VCALENDAR")


def test_format_flowed_lines_are_joined_again():
    message = parse("format_flowed.eml")

    assert message.text == (
        "The Wi-Fi in meeting room B keeps dropping whenever more than ten people join a call."
    )


def test_a_part_nested_five_levels_deep_is_found():
    message = parse("nested_multipart_5_levels.eml")

    assert message.text == "The badge reader at the north entrance is offline."
    assert "<b>north entrance</b>" in message.html
    assert names(message) == ["attachment.png", "readers.csv"]
    image, table = message.attachments
    assert image.inline and image.content_id == "reader@example.com"
    assert table.content_type == "text/csv" and not table.inline
    assert (
        table.data == b"reader,status\nnorth,offline"
    )  # the last line break belongs to the boundary


# --------------------------------------------------------------------------------------------
# New text and quoted history


def test_a_reply_keeps_only_the_text_above_the_quote():
    message = parse("reply_with_quote.eml")

    assert message.text == "It works now, thank you!"
    assert "> We cleared the jam" in message.full_text


def test_a_gmail_attribution_wrapped_over_two_lines_starts_the_quote():
    message = parse("gmail_attribution_en.eml")

    assert message.text == "Still cannot log in after the reset."


def test_a_french_gmail_attribution_starts_the_quote():
    message = parse("gmail_attribution_fr.eml")

    assert message.subject == "Re: Réinitialisation"
    assert message.text == "Toujours impossible de me connecter."


def test_outlook_original_message_starts_the_quote():
    assert parse("outlook_original_message_en.eml").text == "Yes, the S: drive is back. Thanks."


def test_outlook_message_d_origine_starts_the_quote():
    assert parse("outlook_original_message_fr.eml").text == "Oui, le lecteur S: est revenu. Merci."


def test_an_outlook_header_block_starts_the_quote_with_its_rule():
    message = parse("outlook_header_block_en.eml")

    assert message.text == "The second monitor still flickers."
    assert "We replaced the cable" in message.full_text


def test_a_french_outlook_header_block_starts_the_quote():
    assert parse("outlook_header_block_fr.eml").text == "Le deuxième écran scintille toujours."


def test_a_gmail_html_reply_keeps_only_the_new_text():
    message = parse("gmail_html_reply.eml")

    assert message.text == "Still broken, sorry."
    assert "> Is it fixed?" in message.full_text


def test_an_outlook_html_reply_keeps_only_the_new_text():
    message = parse("outlook_html_reply.eml")

    assert message.text == "Thanks, it works."
    assert message.full_text.endswith("Subject: Shared drive\n\nCan you check the S: drive?")


def test_a_gmail_forward_is_not_a_quote():
    message = parse("gmail_forwarded_inline.eml")

    assert message.text.startswith("Is this legitimate?\n\n---------- Forwarded message ---------")
    assert message.text.endswith("We noticed a login to your account from a new device.")


def test_a_signature_after_dash_dash_space_is_cut():
    message = parse("signature_dash_dash.eml")

    assert message.text == "Could you install the scanner driver on PC-0412?"
    assert "Accounts Payable" in message.full_text


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("sent_from_iphone.eml", "My phone stopped syncing mail since yesterday."),
        ("envoye_de_mon_iphone.eml", "Ma messagerie ne se synchronise plus sur mon téléphone."),
        ("get_outlook_for_ios.eml", "Meeting invites no longer show up in my calendar."),
    ],
)
def test_a_mobile_footer_is_cut(name, text):
    assert parse(name).text == text


# --------------------------------------------------------------------------------------------
# Automatic messages and loops


def test_an_out_of_office_reply_is_automatic():
    message = parse("auto_submitted_auto_replied.eml")

    assert message.auto_submitted == "auto-replied"
    assert message.is_auto


def test_auto_submitted_no_is_a_person_writing():
    message = parse("auto_submitted_no.eml")

    assert message.auto_submitted == "no"
    assert not message.is_auto


def test_bulk_precedence_is_automatic():
    message = parse("precedence_bulk.eml")

    assert message.precedence == "bulk"
    assert message.is_auto


def test_x_auto_response_suppress_is_automatic():
    message = parse("x_auto_response_suppress.eml")

    assert message.auto_response_suppress == "All"
    assert message.is_auto


def test_a_mailing_list_message_is_automatic():
    message = parse("list_id.eml")

    assert message.list_id == "Example users <users.lists.example.org>"
    assert message.is_auto


def test_a_mailer_daemon_sender_is_automatic():
    message = parse("mailer_daemon_sender.eml")

    assert message.sender.email == "mailer-daemon@mx.example.com"
    assert message.is_auto
    assert message.bounce is None


def test_a_delivery_status_report_names_the_address_that_failed():
    message = parse("bounce_rfc3464.eml")

    assert message.bounce is not None
    assert message.bounce.recipients == ("former.employee@example.org",)
    assert message.bounce.status == "5.1.1"
    assert message.bounce.action == "failed"
    assert message.bounce.permanent
    assert message.is_auto
    assert message.text.startswith("Your message could not be delivered")
    assert [a.content_type for a in message.attachments] == ["text/rfc822-headers"]


def test_a_french_outlook_out_of_office_is_an_automatic_reply():
    """Exchange marks its out-of-office "auto-generated", in a reply to the mail it answers."""
    message = parse("outlook_fr_reponse_automatique.eml")

    assert message.subject.startswith("Réponse automatique")
    assert "[IT-000042]" in message.subject
    assert message.in_reply_to == ("5d41402abc4b2a76b9719d911017c592.it-000042@example.com",)
    assert message.auto_reply == "Auto-Submitted: auto-generated"
    assert message.auto_reply_certain
    assert message.is_auto
    assert message.text.startswith("Bonjour,\n\nJe suis absente du bureau jusqu'au lundi 31 mars")


def test_a_gmail_vacation_responder_is_an_automatic_reply():
    message = parse("gmail_vacation_responder.eml")

    assert message.sender.email == "rita.vance@gmail.com"
    assert message.subject == "Out of office"
    assert message.in_reply_to == ("a3f9c2e17b5d4e08.it-000042@example.com",)
    assert message.auto_reply == "Auto-Submitted: auto-replied"
    assert message.auto_reply_certain
    assert "on vacation until April 7th" in message.text


def test_auto_submitted_auto_replied_is_an_automatic_reply_even_unthreaded():
    message = parse("auto_submitted_auto_replied.eml")

    assert message.in_reply_to == message.references == ()
    assert message.auto_reply == "Auto-Submitted: auto-replied"
    assert message.auto_reply_certain


@pytest.mark.parametrize(
    "name",
    ["x_auto_response_suppress.eml", "precedence_bulk.eml", "list_id.eml", "plain_ascii.eml"],
)
def test_automatic_mail_that_answers_nothing_is_no_automatic_reply(name):
    """A quota warning, a newsletter, a list: automatic, but not answering anyone."""
    assert parse(name).auto_reply == ""


@pytest.mark.parametrize("name", ["mailer_daemon_sender.eml", "bounce_rfc3464.eml"])
def test_a_bounce_is_no_automatic_reply(name):
    """Bounces keep their own handling, though a delivery report says ``auto-replied``."""
    message = parse(name)

    assert message.auto_reply == ""
    assert message.is_auto


def _headers_message(headers: dict[str, str], subject: str = "Printer") -> bytes:
    lines = [
        "From: Rita Vance <rita@example.com>",
        "To: support@example.com",
        f"Subject: {subject}",
        "Message-ID: <m1@example.com>",
        *(f"{name}: {value}" for name, value in headers.items()),
        "",
        "I am away.",
    ]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    ("headers", "subject", "why", "certain"),
    [
        ({"X-Autoreply": "yes"}, "Printer", "X-Autoreply", True),
        ({"X-Autorespond": "Away"}, "Printer", "X-Autorespond", True),
        ({"Precedence": "auto_reply"}, "Printer", "Precedence: auto_reply", True),
        (
            {"In-Reply-To": "<ours@example.com>", "Auto-Submitted": "auto-generated"},
            "Re: Printer",
            "Auto-Submitted: auto-generated",
            True,
        ),
        (
            {"References": "<ours@example.com>", "X-Auto-Response-Suppress": "All"},
            "Printer",
            "X-Auto-Response-Suppress",
            True,
        ),
        (
            {"Auto-Submitted": "auto-generated"},
            "Automatic reply: Printer",
            "Auto-Submitted: auto-generated",
            True,
        ),
        ({}, "Out of Office AutoReply: Printer", "its subject (Out of Office AutoReply)", False),
        ({}, "Absent du bureau : Imprimante", "its subject (Absent du bureau)", False),
        ({}, "Absence", "its subject (Absence)", False),
        (
            {"In-Reply-To": "<ours@example.com>"},
            "Out of office",
            "its subject (Out of office)",
            True,
        ),
        ({"Auto-Submitted": "auto-generated"}, "Disk full on srv-01", "", False),
        ({"X-Auto-Response-Suppress": "All"}, "Quota", "", False),
        ({"In-Reply-To": "<ours@example.com>", "Auto-Submitted": "no"}, "Re: Printer", "", False),
        ({}, "Absence of a driver for the printer", "", False),
        ({}, "Re: Automatic reply: Printer", "", False),
    ],
)
def test_what_reads_as_an_automatic_reply(headers, subject, why, certain):
    message = parse_message(_headers_message(headers, subject))

    assert (message.auto_reply, message.auto_reply_certain) == (why, certain)
    if why:  # and no acknowledgement answers it
        assert message.is_auto


def test_every_x_loop_value_is_kept():
    message = parse("x_loop.eml")

    assert message.x_loop == ("support@example.com", "relay@example.com")
    assert not message.is_auto  # whether it is our own loop is the caller's question


# --------------------------------------------------------------------------------------------
# Threading and addressing


def test_in_reply_to_and_references_are_read_without_brackets():
    message = parse("in_reply_to_references.eml")

    assert message.message_id == "CAHf7=reply.3@mail.example.com"
    assert message.in_reply_to == ("ticket-51-reply-2@support.example.com",)
    assert message.references == (
        "CAHf7=first.1@mail.example.com",
        "ticket-51-reply-1@support.example.com",
        "ticket-51-reply-2@support.example.com",
    )


def test_a_quoted_reply_keeps_its_in_reply_to():
    message = parse("reply_with_quote.eml")

    assert message.in_reply_to == ("ticket-17-reply-1@support.example.com",)
    assert message.references == ()


def test_a_ticket_reference_in_the_subject_is_kept_as_written():
    message = parse("subject_ticket_reference.eml")

    assert message.subject == "RE: [IT-000042] Your VPN access"


def test_a_plus_address_reaches_delivered_to_lower_cased():
    message = parse("plus_address_ticket_reference.eml")

    assert message.delivered_to == ("support+it-000042@example.com",)
    assert message.to == (Address(email="support+it-000042@example.com", name="IT Support"),)


def test_every_cc_is_read_with_its_decoded_name():
    message = parse("cc_several.eml")

    assert message.cc == (
        Address(email="jane.doe@example.com", name="Doe, Jane"),
        Address(email="bob@example.com", name="Bob Stone"),
        Address(email="zoe@example.fr", name="Zoë Lefèvre"),
        Address(email="carol@example.com", name=""),
    )
    assert message.reply_to == (Address(email="lead@example.com", name="Team Lead"),)


def test_a_message_without_message_id_has_an_empty_one():
    message = parse("no_message_id.eml")

    assert message.message_id == ""
    assert message.date == datetime(2025, 3, 25, 8, 0, tzinfo=UTC)


def test_a_message_without_date_has_none():
    message = parse("no_date.eml")

    assert message.date is None
    assert message.text == "My headset crackles during calls."


# --------------------------------------------------------------------------------------------
# Broken and hostile input


def test_an_empty_file_is_unreadable():
    with pytest.raises(UnreadableMessage):
        parse("empty.eml")


def test_a_file_without_headers_is_unreadable():
    with pytest.raises(UnreadableMessage):
        parse("headerless.eml")


def test_a_boundary_that_never_closes_still_gives_text_and_attachment():
    message = parse("unclosed_boundary.eml")

    assert message.text == "The contract scan is attached."
    assert names(message) == ["contract.pdf"]
    assert any("never closed" in defect for defect in message.defects)


def test_broken_base64_gives_what_can_be_read_and_is_noted():
    message = parse("broken_base64.eml")

    assert message.text == "The log file is attached."
    assert names(message) == ["app.log"]
    assert any("base64" in defect for defect in message.defects)


def test_file_names_lose_their_path_and_device_names_and_bidi_tricks():
    message = parse("dangerous_filenames.eml")

    assert names(message) == ["passwd", "_con.txt", "invoicefdp.exe"]
    assert message.attachments[1].content_type == "application/octet-stream"  # none declared


def test_an_encoded_crlf_cannot_add_a_header_or_an_address():
    message = parse("subject_crlf_injection.eml")

    assert message.subject == "Hello Bcc: victim@example.org body"
    assert message.sender == Address(
        email="attacker@example.net", name="Attacker Bcc: victim@example.org"
    )
    assert message.cc == ()


def test_a_bare_cr_in_a_header_ends_the_header():
    message = parse("bare_cr_in_header.eml")

    assert message.subject == "Hello"
    assert message.to == (Address(email="support@example.com", name=""),)
    assert message.text == "Body line one.\nBody line two."


def test_an_encoded_comma_does_not_make_a_second_address():
    raw = b"From: =?utf-8?q?boss@example.com=2C_?= <attacker@example.net>\nSubject: x\n\nbody\n"

    message = parse_message(raw)

    assert message.sender == Address(email="attacker@example.net", name="boss@example.com,")


def test_a_big_attachment_is_read_whole():
    data = os.urandom(5 * 1024 * 1024)
    raw = (
        b"From: a@example.com\nSubject: big\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nsee attached\n"
        b"--b\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment; filename=dump.zip\n\n"
        + base64.encodebytes(data)
        + b"--b--\n"
    )

    message = parse_message(raw)

    assert message.text == "see attached"
    (dump,) = message.attachments
    assert dump.filename == "dump.zip" and dump.data == data


def test_a_hundred_thousand_tiny_parts_stop_at_the_limit_quickly():
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(100_000))
    raw = b"From: a@example.com\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    raw += parts + b"--b--\r\n"

    started = time.perf_counter()
    message = parse_message(raw)
    elapsed = time.perf_counter() - started

    assert elapsed < 2
    assert any(f"more than {MAX_PARTS} MIME parts" in defect for defect in message.defects)
    assert message.full_text.count("x") < MAX_PARTS


def test_sections_nested_thousands_deep_are_cut_without_failing():
    raw = b"From: a@example.com\nSubject: deep\n" + b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(3000)
    )

    message = parse_message(raw + b"\nhello\n")

    assert message.subject == "deep"
    assert any("nested" in defect for defect in message.defects)


def test_a_message_over_the_limit_is_refused_before_parsing():
    with pytest.raises(MessageTooLarge):
        parse_message(b"x" * (60 * 1024 * 1024))
    assert MAX_MESSAGE_BYTES == 50 * 1024 * 1024


def test_the_size_limit_can_be_lowered():
    raw = (CORPUS / "plain_ascii.eml").read_bytes()

    with pytest.raises(MessageTooLarge):
        parse_message(raw, max_bytes=100)
    assert parse_message(raw, max_bytes=len(raw)).size == len(raw)


def test_a_nul_byte_never_reaches_the_text():
    message = parse_message(b"From: a@example.com\nSubject: a\x00b\n\nline\x00 one\n")

    assert message.subject == "a b"
    assert message.text == "line one"


def test_dates_are_converted_to_utc_and_a_bad_date_is_none():
    base = b"From: a@example.com\nSubject: d\n"

    dated = parse_message(base + b"Date: Mon, 10 Mar 2025 09:00:00 +0930\n\nx\n")
    undated = parse_message(base + b"Date: sometime last week\n\nx\n")

    assert dated.date == datetime(2025, 3, 9, 23, 30, tzinfo=UTC)
    assert undated.date is None


_header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60).map(
    lambda text: text.encode("utf-8", errors="replace")
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_header_text, sender=_header_text, body=st.binary(max_size=300))
def test_whatever_the_headers_hold_the_values_stay_on_one_line(subject, sender, body):
    raw = b"From: " + sender + b"\nSubject: " + subject + b"\nTo: support@example.com\n\n" + body

    message = parse_message(raw)

    for value in (message.subject, message.sender.name, message.sender.email):
        assert "\n" not in value and "\r" not in value
    assert "\x00" not in message.full_text


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_as_unreadable(raw):
    try:
        message = parse_message(raw)
    except UnreadableMessage:
        return
    assert message.size == len(raw)


# --------------------------------------------------------------------------------------------
# split_quoted


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Thanks!\n\n> earlier\n> more", "Thanks!"),
        ("Thanks!\n  > indented quote", "Thanks!"),
        ("Merci.\n\nLe 3 mars 2025 à 10:00, Support <s@example.com> a écrit :\n> x", "Merci."),
        ("Merci.\n\nLe 3 mars 2025 à 10:00, Support\u00a0a\u00a0écrit\u00a0:\n\nx", "Merci."),
        ("Ok.\n\nOn Mon, Mar 3, 2025 at 10:00 AM John <\njohn@example.com> wrote:\n\nx", "Ok."),
        ("Ok.\nJohn Smith wrote:\n> quoted", "Ok."),
        ("Ok.\n\nAm 03.03.2025 um 10:00 schrieb John <john@example.com>:\n> x", "Ok."),
        ("Done.\n\n-----Original Message-----\nFrom: x", "Done."),
        ("Fait.\n\n-----Message d’origine-----\nDe : x", "Fait."),
        ("Done.\n\nFrom: A <a@x>\nSent: Monday\nTo: B\nSubject: S\n\nold", "Done."),
        ("Done.\n\n*From:* A <a@x>\n*Sent:* Monday\n*To:* B\n*Subject:* S\n\nold", "Done."),
        ("Fait.\n\nDe : A\nEnvoyé : lundi\nÀ : B\nObjet : S\n\nold", "Fait."),
        ("Bye\n--\nName", "Bye"),
        ("Bye\n-- \nName", "Bye"),
        ("Bye\n\nSent from my iPad", "Bye"),
        ("Bye\n\nEnvoyé depuis mon mobile", "Bye"),
        ("Bye\n\nGet Outlook for Android", "Bye"),
        ("Bye\n\nTélécharger Outlook pour iOS", "Bye"),
        ("\n\nHello\n\n\n", "Hello"),
        ("Hello\r\nWorld\r\n> quote", "Hello\nWorld"),
    ],
)
def test_split_quoted_keeps_the_text_above_the_first_marker(text, new):
    assert split_quoted(text)[0] == new


@pytest.mark.parametrize(
    "text",
    [
        "On Monday the printer broke.\nIt still is broken.",
        "Le serveur est tombé.\nMerci de regarder.",
        "From: the accounting team\nWe need new laptops.",
        "Use the --force flag.\n---\nNot a signature.",
        "I sent from my iPhone a photo of the error yesterday.",
        "Costs: 5 > 3 in this quarter.",
        "---------- Forwarded message ---------\nFrom: A <a@x>\nDate: Mon\nSubject: S\nTo: B\n\nbody",
        "Début du message réexpédié :\n\nDe : A\nDate : lundi\nObjet : S\nÀ : B\n\ncorps",
    ],
)
def test_split_quoted_leaves_text_without_markers_alone(text):
    assert split_quoted(text) == (text, "")


def test_split_quoted_returns_the_quote_and_signature_as_the_rest():
    new, rest = split_quoted("Thanks\n\n-- \nAlice\n\n> old\n")

    assert new == "Thanks"
    assert rest == "-- \nAlice\n\n> old"


def test_a_message_that_is_only_a_quote_keeps_its_whole_text():
    message = parse_message(b"From: a@example.com\nSubject: q\n\n> only a quote\n> here\n")

    assert message.text == message.full_text == "> only a quote\n> here"


# --------------------------------------------------------------------------------------------
# html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("<div>One</div><div>Two</div>", "One\nTwo"),
        ("a<br>b<br><br>c", "a\nb\n\nc"),
        ("<ul><li>one</li><li>two</li></ul>", "- one\n- two"),
        ("<ol><li>one<ul><li>inner</li></ul></li></ol>", "- one\n  - inner"),
        ('<a href="https://example.com/x">the page</a>', "the page (https://example.com/x)"),
        ('<a href="https://example.com/">https://example.com/</a>', "https://example.com/"),
        ('<a href="mailto:a@example.com">Write to us</a>', "Write to us (a@example.com)"),
        ('<a href="javascript:alert(1)">Click</a>', "Click"),
        ('<a href="cid:x">Pic</a>', "Pic"),
        ("<script>alert('x')</script>Hi<style>p{}</style>", "Hi"),
        ("<head><title>T</title><style>x</style></head><body>Body</body>", "Body"),
        ("<head><title>T</title><body>Unclosed head</body>", "Unclosed head"),
        ("Fish &amp; chips &lt;3 &eacute;t&#233; &#x2014;", "Fish & chips <3 été —"),
        ("  lots   of\n\n spaces  ", "lots of spaces"),
        ("<pre>  keep\n    this</pre>", "  keep\n    this"),
        (
            "<p>Reply</p><blockquote><p>old</p><p>older</p></blockquote>",
            "Reply\n\n> old\n>\n> older",
        ),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ('<img src="x" onerror="alert(1)" alt="Logo">', "[Logo]"),
        ("<!-- hidden --><p>Shown</p><![if !mso]>x<![endif]>", "Shown\n\nx"),
        ("", ""),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_html_to_text_never_shows_script_content_even_when_malformed():
    html = "<p>ok</p><script>steal()<p>still script</p>"

    assert html_to_text(html) == "ok"
    assert html_to_text("<SCRIPT type='text/javascript'>steal()</SCRIPT >after") == "after"
    assert html_to_text("<svg><script>steal()</script><title>t</title></svg>shown") == "shown"


# --------------------------------------------------------------------------------------------
# Large attachments: set apart from the bytes the parser reads, decoded when read


def with_attachment(encoded: bytes, *, eol: bytes = b"\n", after: bytes = b"") -> bytes:
    """A mail with a short text and one PDF attachment whose base64 lines are ``encoded``."""
    raw = (
        b"From: a@example.com\nSubject: report\nMessage-ID: <r1@example.com>\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nThe report is attached.\n"
        b"--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment; filename=report.pdf\n\n" + encoded + after + b"--b--\n"
    )
    return raw.replace(b"\n", eol)


def standard_library_reads(raw: bytes) -> list[bytes]:
    """What the standard library decodes from each leaf part that is an attachment."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return [
        part.get_payload(decode=True)
        for part in message.walk()
        if not part.is_multipart() and part.get_filename()
    ]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("size", [4096, 65_537, 3 * 1024 * 1024 + 1])
def test_a_large_attachment_comes_out_byte_for_byte_however_it_is_read(eol, size):
    data = os.urandom(size)
    message = parse_message(with_attachment(base64.encodebytes(data), eol=eol))

    assert message.text == "The report is attached."
    (report,) = message.attachments
    assert (report.filename, report.content_type) == ("report.pdf", "application/pdf")
    assert report.size == size
    assert report.data == data
    assert b"".join(report.chunks()) == data
    stream = report.open()
    pieces = []
    while piece := stream.read(4093):
        pieces.append(piece)
    assert b"".join(pieces) == data
    stream.seek(0)
    assert stream.read(10) == data[:10]
    stream.seek(size - 3)
    assert stream.read() == data[-3:]


def test_a_large_attachment_is_not_held_in_memory_while_the_message_is_read():
    data = os.urandom(6 * 1024 * 1024)
    raw = with_attachment(base64.encodebytes(data), eol=b"\r\n")
    digest = hashlib.sha256()

    tracemalloc.start()
    try:
        message = parse_message(raw)
        (report,) = message.attachments
        for chunk in report.chunks():
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest.digest() == hashlib.sha256(data).digest()
    # The standard library alone would hold about eight times the message.
    assert peak < len(raw) // 10


@pytest.mark.parametrize(
    "damage",
    [
        lambda lines: lines[:40] + [b"!!!!" + lines[40][4:]] + lines[41:],
        lambda lines: lines[:-1] + [lines[-1][:-1]],
        lambda lines: lines[:10] + [b"QQ=="] + lines[10:],
        lambda lines: [line + b" " for line in lines],
        lambda lines: lines[:5] + [b"-- not a boundary"] + lines[5:],
    ],
    ids=["foreign-characters", "truncated", "padding-inside", "trailing-spaces", "dash-line"],
)
def test_broken_base64_in_a_large_attachment_reads_as_the_standard_library_reads_it(damage):
    lines = base64.encodebytes(os.urandom(30_001)).splitlines()
    raw = with_attachment(b"\n".join(damage(lines)) + b"\n")

    message = parse_message(raw)

    assert message.text == "The report is attached."
    assert [a.data for a in message.attachments] == standard_library_reads(raw)
    assert any("broken base64" in defect for defect in message.defects)


def test_a_forwarded_message_keeps_its_large_attachment_byte_for_byte():
    data = os.urandom(200_000)
    inner = with_attachment(base64.encodebytes(data), eol=b"\r\n").replace(
        b"Subject: report", b"Subject: Scan"
    )
    raw = (
        b"From: b@example.com\r\nSubject: Fwd: Scan\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n"
        b"--outer\r\nContent-Type: text/plain\r\n\r\nSee the attached mail.\r\n"
        b"--outer\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--outer--\r\n"
    )

    message = parse_message(raw)

    (forwarded,) = message.attachments
    assert forwarded.filename == "Scan.eml"
    standard = email.message_from_bytes(raw, policy=email.policy.default)
    inner_message = standard.get_payload(1).get_payload(0)
    policy = email.policy.default.clone(refold_source="none")
    assert forwarded.data == inner_message.as_bytes(policy=policy)
    assert forwarded.size == len(forwarded.data)
    assert [a.data for a in parse_message(forwarded.data).attachments] == [data]
    assert "The report is attached." in message.full_text


def test_a_message_quoting_the_placeholder_text_is_read_as_it_came():
    data = os.urandom(50_000)
    raw = with_attachment(base64.encodebytes(data)).replace(
        b"The report is attached.", b"Odd words: ComptoirBodySetApart0Q and ComptoirBodySetApart"
    )

    message = parse_message(raw)

    assert message.text == "Odd words: ComptoirBodySetApart0Q and ComptoirBodySetApart"
    assert [a.data for a in message.attachments] == [data]


def test_a_large_html_body_in_base64_is_read_as_text():
    html = "<p>" + "Écran noir après la mise à jour. " * 800 + "</p>"
    raw = (
        b"From: a@example.com\nSubject: html\nMIME-Version: 1.0\n"
        b"Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(html.encode())
    )

    message = parse_message(raw)

    assert message.html == html
    assert message.text.startswith("Écran noir après la mise à jour.")
    assert message.attachments == ()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40_000), min_size=1, max_size=3),
    eol=st.sampled_from([b"\n", b"\r\n"]),
    width=st.sampled_from([76, 64, 4, 1000]),
    forwarded=st.booleans(),
)
def test_attachments_read_as_the_standard_library_reads_them(sizes, eol, width, forwarded):
    parts = []
    for index, size in enumerate(sizes):
        encoded = base64.b64encode(os.urandom(size))
        lines = b"\n".join(encoded[i : i + width] for i in range(0, len(encoded), width))
        parts.append(
            b"--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            b"Content-Disposition: attachment; filename=f%d.bin\n\n" % index + lines + b"\n"
        )
    body = b"Content-Type: multipart/mixed; boundary=b\n\n" + b"".join(parts) + b"--b--\n"
    if forwarded:
        body = (
            b"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\n"
            b"From: c@example.com\nSubject: inner\nMIME-Version: 1.0\n" + body + b"--o--\n"
        )
    raw = (b"From: a@example.com\nSubject: files\nMIME-Version: 1.0\n" + body).replace(b"\n", eol)

    message = parse_message(raw)

    if forwarded:
        (eml,) = message.attachments
        inner = email.message_from_bytes(raw, policy=email.policy.default).get_payload(0)
        policy = email.policy.default.clone(refold_source="none")
        assert eml.data == inner.get_payload(0).as_bytes(policy=policy)
    else:
        assert [a.data for a in message.attachments if a.data] == [
            data for data in standard_library_reads(raw) if data
        ]
