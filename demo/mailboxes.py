#!/usr/bin/env python3
"""Reads the demo's mailboxes over IMAPS and prints them for scripts/demo.

Only the standard library (imaplib, email), so it runs on a fresh Debian machine. Every
command takes the mail system's env file first (written by scripts/mailsystem: ports, CA,
password); all users are on delega.test and share the demo password.

    mailboxes.py ENV wait USER MAILBOX COUNT SECONDS   until MAILBOX holds COUNT messages
    mailboxes.py ENV count USER MAILBOX                 how many it holds (0 if missing)
    mailboxes.py ENV folders USER MAILBOX...            sender and subject, per mailbox
    mailboxes.py ENV forwards PREFIX USER...            what each assistant received
    mailboxes.py ENV reply USER CC MATCH TEXT           USER answers the forward whose subject
                                                        holds MATCH: to its Reply-To, CC in Cc,
                                                        as a reply to it; sent to CC through Postfix
"""

import email
import email.header
import email.policy
import email.utils
import imaplib
import re
import shlex
import shutil
import ssl
import sys
import time
from datetime import timedelta, timezone

# The demo's week is in November: Rome is on CET, one hour ahead of UTC. zoneinfo needs the
# tzdata package, which a minimal Debian may not have, so it is only preferred.
try:
    from zoneinfo import ZoneInfo

    ROME = ZoneInfo("Europe/Rome")
except Exception:  # noqa: BLE001 - any failure means: no time zone database
    ROME = timezone(timedelta(hours=1))

WIDTH = max(80, min(shutil.get_terminal_size((100, 24)).columns, 130))
# Dim text on a terminal only.
DIM, RESET = ("\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "")
# The labels of the forward's text part (src/forward.rs, Italian): the instructions follow
# "Cosa fare", and the rule that delegated the message is on the "Regola:" line.
TASK_LABEL = "Cosa fare"
RULE_LABEL = "Regola:"


def read_env(path):
    env = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                env[key] = (shlex.split(value) or [""])[0]
    return env


def connect(env, user):
    ctx = ssl.create_default_context(cafile=env["CA_FILE"])
    imap = imaplib.IMAP4_SSL("127.0.0.1", int(env["IMAPS_PORT"]), ssl_context=ctx, timeout=30)
    imap.login(f"{user}@{env['DOMAIN']}", env["PASSWORD"])
    return imap


def count(imap, mailbox):
    typ, data = imap.status(quote(mailbox), "(MESSAGES)")
    if typ != "OK":
        return 0
    match = re.search(rb"MESSAGES (\d+)", data[0])
    return int(match.group(1)) if match else 0


def quote(mailbox):
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def fetch_all(imap, mailbox, what):
    """Every message of MAILBOX as a parsed email, in UID order; [] if the mailbox is missing."""
    typ, _ = imap.select(quote(mailbox), readonly=True)
    if typ != "OK":
        return []
    typ, data = imap.uid("FETCH", "1:*", f"(BODY.PEEK[{what}])")
    if typ != "OK":
        return []
    messages = [parse(item[1]) for item in data if isinstance(item, tuple)]
    imap.close()
    return messages


def parse(raw):
    try:
        return email.message_from_bytes(raw, policy=email.policy.default)
    except Exception:  # noqa: BLE001 - a message the modern parser refuses
        return email.message_from_bytes(raw)


def header(msg, name):
    """A header decoded to one line of text ('' if absent or undecodable)."""
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - e.g. a malformed address list
        value = None
    if value is None:
        return ""
    try:
        text = str(email.header.make_header(email.header.decode_header(str(value))))
    except Exception:  # noqa: BLE001 - unknown charset and the like
        text = str(value)
    return " ".join(text.split())


def sender(msg):
    name, address = email.utils.parseaddr(header(msg, "From"))
    return name or address or "(unknown)"


def sent_at(msg):
    """When the message says it was sent, in Rome; None if it does not say."""
    try:
        when = email.utils.parsedate_to_datetime(header(msg, "Date"))
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(ROME)


def local_time(msg):
    when = sent_at(msg)
    return when.strftime("%a %H:%M") if when else " " * 9


def cut(text, width):
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def text_part(msg):
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.is_attachment():
            try:
                return part.get_content()
            except Exception:  # noqa: BLE001
                return part.get_payload(decode=True).decode("utf-8", "replace")
    return ""


def instructions(text):
    """The rule's instructions and the rule's name, as the forward's text part shows them."""
    lines = text.splitlines()
    rule = next((l[len(RULE_LABEL):].strip() for l in lines if l.startswith(RULE_LABEL)), "?")
    try:
        start = lines.index(TASK_LABEL) + 1
    except ValueError:
        return rule, []
    while start < len(lines) and not lines[start].strip():
        start += 1
    body = []
    for line in lines[start:]:
        if not line.strip():
            break
        body.append(line.strip())
    return rule, body


def cmd_wait(env, user, mailbox, want, seconds):
    deadline = time.monotonic() + float(seconds)
    imap = connect(env, user)
    have = 0
    while time.monotonic() < deadline:
        have = count(imap, mailbox)
        if have >= int(want):
            return 0
        time.sleep(0.2)
    print(f"only {have} of {want} messages reached {user}'s {mailbox} within {seconds}s",
          file=sys.stderr)
    return 1


def cmd_count(env, user, mailbox):
    print(count(connect(env, user), mailbox))
    return 0


FOLDER_NOTES = {
    "INBOX": "stays with Giulia",
    "Delegated": "forwarded to an assistant, then filed",
    "Noise": "filed out of the Inbox, never deleted",
}


def cmd_folders(env, user, *mailboxes):
    imap = connect(env, user)
    fields = "HEADER.FIELDS (FROM SUBJECT DATE)"
    name_w = 28
    subject_w = WIDTH - name_w - 4 - 10 - 2
    for mailbox in mailboxes:
        messages = fetch_all(imap, mailbox, fields)
        # In the order they were sent, as a mail client shows them.
        messages.sort(key=lambda m: (sent_at(m) is None, sent_at(m) and sent_at(m).timestamp()))
        note = FOLDER_NOTES.get(mailbox, "")
        print(f"\n{mailbox} ({len(messages)}){': ' + note if note else ''}")
        for msg in messages:
            print(f"    {local_time(msg)}  {cut(sender(msg), name_w):<{name_w}}  "
                  f"{cut(header(msg, 'Subject') or '(no subject)', subject_w)}")
    imap.logout()
    return 0


def cmd_forwards(env, prefix, *users):
    """Per assistant and rule: the instructions' first lines, then each forward's subject
    (without PREFIX, which every one has) and Reply-To."""
    received = {}
    for user in users:
        imap = connect(env, user)
        received[user] = fetch_all(imap, "INBOX", "")
        imap.logout()
    rows = {}
    for user, forwards in received.items():
        for msg in forwards:
            subject = header(msg, "Subject")
            if subject.startswith(prefix + " "):
                subject = subject[len(prefix) + 1:]
            reply_to = email.utils.parseaddr(header(msg, "Reply-To"))[1] or "(none)"
            rows[id(msg)] = (subject, reply_to)
    # One pair of columns for all, the addresses whole.
    address_w = max((len(r[1]) for r in rows.values()), default=0)
    subject_w = max(30, min(max((len(r[0]) for r in rows.values()), default=0),
                            WIDTH - 4 - 2 - len("Reply-To: ") - address_w))
    print(f"{DIM}Each forward: subject \"{prefix} \" + the original's; the rule's instructions "
          f"first; Reply-To:\nthe original's sender; the original attached.{RESET}")
    for user, forwards in received.items():
        print(f"\n{user}@{env['DOMAIN']} received {len(forwards)} forward(s)")
        by_rule = {}
        for msg in forwards:
            rule, lines = instructions(text_part(msg))
            by_rule.setdefault(rule, (lines, []))[1].append(msg)
        for rule, (lines, msgs) in by_rule.items():
            label = f"  {rule}: "
            for i, line in enumerate(lines[:2]):
                more = f" (+{len(lines) - 2} lines)" if i == 1 and len(lines) > 2 else ""
                text = cut(line, WIDTH - len(label) - len(more)) + more
                print(f"{label if i == 0 else ' ' * len(label)}{DIM}{text}{RESET}")
            for msg in msgs:
                subject, reply_to = rows[id(msg)]
                print(f"    {cut(subject, subject_w):<{subject_w}}  Reply-To: {reply_to}")
    return 0


def cmd_reply(env, user, cc, match, text):
    """The assistant's answer to the client, the entrepreneur in Cc, written as a reply to
    the forward (as a mail client's Reply does): prints the subject it answered."""
    import smtplib
    from email.message import EmailMessage

    imap = connect(env, user)
    forwards = fetch_all(imap, "INBOX", "")
    imap.logout()
    forward = next((m for m in forwards if match in header(m, "Subject")), None)
    if forward is None:
        print(f"mailboxes.py: reply: no forward with {match!r} in {user}'s INBOX", file=sys.stderr)
        return 1
    me = f"{user}@{env['DOMAIN']}"
    reply = EmailMessage()
    reply["From"] = me
    reply["To"] = header(forward, "Reply-To") or header(forward, "From")
    reply["Cc"] = cc
    reply["Subject"] = "Re: " + header(forward, "Subject")
    reply["Message-ID"] = email.utils.make_msgid(domain=env["DOMAIN"])
    reply["In-Reply-To"] = forward["Message-ID"]
    reply["References"] = forward["Message-ID"]
    reply["Date"] = email.utils.formatdate(localtime=True)
    reply.set_content(text + "\n")
    # Only the Cc is ours to deliver: the client's address is outside the demo.
    with smtplib.SMTP("127.0.0.1", int(env["SMTP_PORT"]), timeout=30) as smtp:
        smtp.send_message(reply, from_addr=me, to_addrs=[cc])
    print(reply["Subject"])
    return 0


COMMANDS = {
    "wait": cmd_wait,
    "count": cmd_count,
    "folders": cmd_folders,
    "forwards": cmd_forwards,
    "reply": cmd_reply,
}


def main(argv):
    if len(argv) < 3 or argv[2] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return 2
    env = read_env(argv[1])
    try:
        return COMMANDS[argv[2]](env, *argv[3:])
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as err:
        print(f"mailboxes.py: {argv[2]}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
