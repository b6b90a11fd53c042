# shellcheck shell=bash
# benches/lib.sh: what the bench scripts share, sourced by them (not run on its own).
#
# Starting the real mail system for a bench, loading an Inbox straight into its Maildir,
# writing a delega config for it, and timing a command with its peak RSS. Each script
# keeps its own measurements and output; nothing here prints a figure.
#
# Callers set `set -euo pipefail` and `root` (the repo) before sourcing.
# Variables set here for the caller: work, bin, WALL, RSS_KB, CPU, SPAWNED, and those of
# the mail system's DIR/env (MAIL_DIR, IMAPS_PORT, SMTP_PORT...).
# shellcheck disable=SC2034,SC2154

# bench_start NAME: builds delega (release), starts a fresh mail system under
# target/bench/NAME and sets `work` (that directory) and `bin` (the delega binary). The mail
# system is stopped when the script exits. DELEGA=path uses that binary instead of building.
bench_start() {
    local name="$1"
    "$root/scripts/mailsystem" install-deps >/dev/null
    if [ -n "${DELEGA:-}" ]; then
        bin="$DELEGA"
    else
        (cd "$root" && cargo build --release --locked --quiet)
        bin="$root/target/release/delega"
    fi
    work="$root/target/bench/$name"
    "$root/scripts/mailsystem" stop "$work/ms" >/dev/null 2>&1 || true
    rm -rf "$work"
    mkdir -p "$work"
    "$root/scripts/mailsystem" start "$work/ms" >/dev/null
    BENCH_MS="$work/ms"
    trap bench_cleanup EXIT
    # shellcheck disable=SC1091
    source "$work/ms/env"
    echo "$PASSWORD" >"$work/password"
    chmod 600 "$work/password"
}

# Processes started by bench_spawn, and the mail system: what bench_cleanup stops.
BENCH_PIDS=()
BENCH_MS=""

# bench_cleanup: stops what the bench started (run at exit).
bench_cleanup() {
    local pid
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    [ -z "$BENCH_MS" ] || "$root/scripts/mailsystem" stop "$BENCH_MS" >/dev/null 2>&1 || true
}

# bench_spawn LOG CMD...: starts CMD in the background, stderr and stdout to LOG, and sets
# SPAWNED (its pid); bench_cleanup stops it if the script ends first.
bench_spawn() {
    local log="$1"
    shift
    "$@" >"$log" 2>&1 &
    SPAWNED=$!
    BENCH_PIDS+=("$SPAWNED")
}

# bench_stop PID: SIGTERM, then waits (at most 30 s) for it to exit.
bench_stop() {
    local i
    kill -TERM "$1" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    wait "$1" 2>/dev/null || true
    local left=() pid
    for pid in "${BENCH_PIDS[@]}"; do
        [ "$pid" = "$1" ] || left+=("$pid")
    done
    BENCH_PIDS=("${left[@]}")
}

# bench_wait_log LOG TEXT SECONDS: waits until LOG contains TEXT; fails after SECONDS.
bench_wait_log() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench: \"$2\" did not appear in $1 within $3 s; its tail:" >&2
    tail -n 20 "$1" >&2
    return 1
}

# bench_maildir USER: USER's Maildir (the Inbox; folders are its .NAME subdirectories).
bench_maildir() {
    echo "$MAIL_DIR/mail/$1@$DOMAIN/Maildir"
}

# bench_load USER N: adds USER and fills its Inbox with N messages, the fixture corpus cycled
# (empty fixtures skipped), each with its own Message-ID <bench-I@delega.test> in place of
# the fixture's, written straight into the Maildir: seconds for 10,000, where APPEND would
# take minutes. (A copy that kept its fixture's Message-ID would be refused as a forward
# already sent, once its first copy was.) File names carry the sizes as Dovecot's own
# delivery writes them (`,S=` bytes, `,W=` bytes with CRLF line ends), so that RFC822.SIZE
# is answered from the name, as it is for delivered mail, not by reading every file.
bench_load() {
    local user="$1" n="$2" maildir
    "$root/scripts/mailsystem" adduser "$work/ms" "$user"
    maildir=$(bench_maildir "$user")
    python3 - "$root/tests/fixtures/corpus" "$maildir" "$n" <<'PY'
import os, re, sys, glob, time
corpus, maildir, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
msgs = [open(p, 'rb').read() for p in sorted(glob.glob(os.path.join(corpus, '*.eml')))]
msgs = [m for m in msgs if m.strip()]
def without_message_id(raw):
    parts = re.split(rb'(\r?\n\r?\n)', raw, maxsplit=1)
    parts[0] = re.sub(rb'(?im)^message-id:[^\n]*\n?([ \t][^\n]*\n?)*', b'', parts[0])
    return b''.join(parts)
msgs = [without_message_id(m) for m in msgs]
for d in ('new', 'cur', 'tmp'):
    os.makedirs(os.path.join(maildir, d), exist_ok=True)
now = int(time.time())
for i in range(n):
    body = msgs[i % len(msgs)]
    head = b'Message-ID: <bench-%d@delega.test>\r\n' % i
    raw = head + body
    vsize = len(raw) + raw.count(b'\n') - raw.count(b'\r\n')
    name = '%d.M%06dP1.bench,S=%d,W=%d' % (now, i, len(raw), vsize)
    with open(os.path.join(maildir, 'new', name), 'wb') as f:
        f.write(raw)
PY
    chown -R mail:mail "$MAIL_DIR/mail/$user@$DOMAIN"
}

# bench_warm USER: one IMAP login and SELECT, so that Dovecot takes the files loaded by
# bench_load into its index (new/ to cur/) before anything is timed. Mail delivered by LMTP
# is indexed on delivery; without this the first tool to SELECT would pay for it.
bench_warm() {
    python3 - "$IMAPS_PORT" "$CA_FILE" "$1@$DOMAIN" "$PASSWORD" <<'PY'
import imaplib, ssl, sys
port, ca, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
imap = imaplib.IMAP4_SSL('localhost', port, ssl_context=ssl.create_default_context(cafile=ca))
imap.login(user, password)
imap.select('INBOX')
imap.logout()
PY
}

# bench_observe_rules SRC DST: copies the rules files of SRC into DST with every delegable
# rule in observe mode (decided and recorded, nothing forwarded): delega without forwarding.
bench_observe_rules() {
    mkdir -p "$2"
    python3 - "$1" "$2" <<'PY'
import os, sys
src, dst = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    text = open(os.path.join(src, name)).read()
    blocks = text.split('[[rule]]')
    for i, block in enumerate(blocks):
        if 'category = "delegable"' in block and '\nmode =' not in block:
            blocks[i] = block.replace('category = "delegable"', 'category = "delegable"\nmode = "observe"', 1)
    open(os.path.join(dst, name), 'w').write('[[rule]]'.join(blocks))
PY
}

# bench_config FILE RULES MARTA LUCA USER...: writes a delega config with one [[account]] per
# USER (named after it, IMAPS, backfill_days = 1 so a loaded backlog counts), the rules
# directory RULES, and the assistants marta and luca at the users MARTA and LUCA. The state
# database sits beside FILE. Forwards go through Postfix's submission port, unthrottled.
# The digest is due at DIGEST_AT, UTC (default 23:59: not during a bench, whatever the hour
# it runs; 00:00 makes it due at once).
bench_config() {
    local file="$1" rules="$2" marta="$3" luca="$4" user
    shift 4
    {
        cat <<TOML
state = "${file%.toml}.db"
[smtp]
host = "localhost"
port = $SUBMISSION_PORT
security = "starttls"
username = "delega@$DOMAIN"
password_file = "$work/password"
ca_file = "$CA_FILE"
from = "delega <delega@$DOMAIN>"
TOML
        for user in "$@"; do
            cat <<TOML

[[account]]
name = "$user"
rules = "$rules"
backfill_days = 1
imap = { host = "localhost", port = $IMAPS_PORT, security = "tls", username = "$user@$DOMAIN", password_file = "$work/password", ca_file = "$CA_FILE" }
digest = { to = "$user@$DOMAIN", timezone = "UTC", at = "${DIGEST_AT:-23:59}" }
forward = { max_per_hour = 1000000 }
[[account.assistant]]
id = "marta"
name = "Marta"
address = "$marta@$DOMAIN"
[[account.assistant]]
id = "luca"
name = "Luca"
address = "$luca@$DOMAIN"
TOML
        done
    } >"$file"
}

# bench_time OUT CMD...: runs CMD, its stdout to OUT.out and stderr to OUT.log, and sets WALL
# (seconds), RSS_KB (peak resident set) and CPU (user + system seconds; "-" where
# /usr/bin/time is missing). Fails, showing the log's tail, if CMD does.
bench_time() {
    local out="$1" start end rc=0 pid r user sys
    shift
    start=$(date +%s.%N)
    CPU=-
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f '%M %U %S' -o "$out.rss" "$@" >"$out.out" 2>"$out.log" || rc=$?
        read -r RSS_KB user sys < <(tail -n 1 "$out.rss")
        CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    else
        "$@" >"$out.out" 2>"$out.log" &
        pid=$!
        RSS_KB=0
        while kill -0 "$pid" 2>/dev/null; do
            r=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
            [ "${r:-0}" -gt "$RSS_KB" ] && RSS_KB=$r
            sleep 0.05
        done
        wait "$pid" || rc=$?
    fi
    end=$(date +%s.%N)
    WALL=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
    if [ "$rc" -ne 0 ]; then
        tail -n 5 "$out.out" "$out.log" >&2
        echo "bench: $1 failed (exit $rc)" >&2
        return 1
    fi
}

# bench_drain_queue: waits (at most 10 minutes) until Postfix has delivered everything
# queued, so that deliveries left by one run do not load the machine during the next.
bench_drain_queue() {
    local i
    for ((i = 0; i < 6000; i++)); do
        postqueue -c "$MAIL_DIR/postfix" -p 2>/dev/null | grep -q '^Mail queue is empty' && return 0
        sleep 0.1
    done
    echo "bench: Postfix's queue did not drain within 10 minutes" >&2
    return 1
}

# bench_placement USER: where each message of a bench_load backlog is now, one line per
# message: "FIXTURE FOLDER" (Inbox, Noise, Delegated...). Messages flagged \Deleted but not
# expunged yet are left out.
bench_placement() {
    python3 - "$root/tests/fixtures/corpus" "$(bench_maildir "$1")" <<'PY'
import glob, os, re, sys
corpus, maildir = sys.argv[1], sys.argv[2]
names = [os.path.basename(p)[:-4] for p in sorted(glob.glob(os.path.join(corpus, '*.eml')))
         if open(p, 'rb').read().strip()]
for folder in ['.'] + sorted(d for d in os.listdir(maildir) if d.startswith('.') and d != '.'):
    for sub in ('new', 'cur'):
        path = os.path.join(maildir, folder, sub)
        if not os.path.isdir(path):
            continue
        for f in os.listdir(path):
            if ':2,' in f and 'T' in f.split(':2,', 1)[1]:
                continue
            head = open(os.path.join(path, f), 'rb').read(200)
            m = re.match(rb'Message-ID: <bench-(\d+)@', head)
            if m:
                print(names[int(m.group(1)) % len(names)], 'Inbox' if folder == '.' else folder[1:])
PY
}
