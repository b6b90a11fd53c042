-- imapfilter's equivalent of delega's example rules (rules/*.toml), for benches/compare.
--
-- Filing only: imapfilter cannot send mail, so a delegable message is moved to Delegated
-- where delega would forward it and then file it there. First match wins, as in delega:
-- each rule looks only at what no earlier rule took (set difference), strategic mail is
-- taken and left in the Inbox, and what no rule takes stays too.
--
-- Plain strings are IMAP SEARCHes run by Dovecot (case-insensitive substrings of decoded
-- headers and bodies, one round trip each: the idiomatic and fast way in imapfilter);
-- regular expressions are matched here (imapfilter fetches the field of every candidate,
-- one round trip per message, and sees it undecoded). Where the two tools differ:
--   * delega's \b word boundaries become substrings ("call" also matches "recall");
--   * from_domain "d" becomes From containing "@d" or ".d" (delega: the sender address's
--     domain is d or a subdomain of it); the bounce rule's anchored local part becomes a
--     substring of From;
--   * the subject percentage pattern is matched on the raw, possibly RFC 2047-encoded,
--     Subject (imapfilter does not decode);
--   * attachment names are matched in the raw body (a filename="..." or name="..."
--     parameter), after a server-side TEXT search preselects candidates; RFC 2231 or
--     RFC 2047-encoded names are missed;
--   * "auto" cannot see an empty Return-Path header's value apart from "<>";
--   * body strings are searched by Dovecot in the HTML itself, where delega reads HTML as
--     text ("non vuoi <a href=...>più ricevere" matches only in delega).
-- benches/compare prints where the two tools filed a corpus message differently.
--
-- Environment: BENCH_PORT (IMAPS), BENCH_USER, BENCH_PASSWORD_FILE; the CA is given with
-- imapfilter -t.

options.info = false
options.timeout = 120
-- Non-ASCII search strings (übersetz, перевод) need a charset.
options.charset = 'UTF-8'
-- Noise and Delegated are created by the first COPY that needs them (TRYCREATE).
options.create = true

local password = io.open(os.getenv('BENCH_PASSWORD_FILE')):read('*l')
local account = IMAP {
    server = 'localhost',
    port = tonumber(os.getenv('BENCH_PORT')),
    username = os.getenv('BENCH_USER'),
    password = password,
    ssl = 'auto',
}

local inbox = account.INBOX
local remaining = inbox:select_all()
local noise, delegable = Set {}, Set {}

-- A rule matched `hits` (taken from `remaining`): files them, and no later rule sees them.
local function decide(category, hits)
    if category == 'noise' then
        noise = noise + hits
    elseif category == 'delegable' then
        delegable = delegable + hits
    end
    remaining = remaining - hits
end

-- Union of `search(s)` over the strings: one IMAP SEARCH each.
local function any(strings, search)
    local hits = Set {}
    for _, s in ipairs(strings) do
        hits = hits + search(s)
    end
    return hits
end

local function from_domain(set, domains)
    local hits = Set {}
    for _, d in ipairs(domains) do
        hits = hits + set:contain_from('@' .. d) + set:contain_from('.' .. d)
    end
    return hits
end

-- list = true: List-Id, List-Unsubscribe, or Precedence bulk/list/junk.
local function list(set)
    return set:contain_field('List-Id', '') + set:contain_field('List-Unsubscribe', '')
        + any({ 'bulk', 'list', 'junk' }, function(v) return set:contain_field('Precedence', v) end)
end

-- auto = true: Auto-Submitted other than "no", X-Autoreply and kin, a delivery report, a
-- null Return-Path, or a MAILER-DAEMON/postmaster sender.
local function auto(set)
    local submitted = set:contain_field('Auto-Submitted', '')
    submitted = submitted - submitted:match_field('Auto-Submitted', '^\\s*[Nn][Oo]\\s*$')
    return submitted
        + set:contain_field('X-Autoreply', '')
        + set:contain_field('X-Autorespond', '')
        + set:contain_field('X-Auto-Response-Suppress', '')
        + set:contain_field('Content-Type', 'multipart/report')
        + set:contain_field('Return-Path', '<>')
        + set:contain_from('mailer-daemon@')
        + set:contain_from('postmaster@')
end

-- An attachment whose name matches `names` and ends in one of `extensions`.
local function attachment(set, names, extensions)
    local candidates = Set {}
    for _, ext in ipairs(extensions) do
        candidates = candidates + set:contain_message('.' .. ext)
    end
    local pattern = '(?i)name\\*?=\\s*"?[^"\\r\\n;]*' .. names .. '[^"\\r\\n;]*\\.('
        .. table.concat(extensions, '|') .. ')"?'
    return candidates:match_body(pattern)
end

-- 10-strategic.toml: taken, left in the Inbox.
decide('strategic', from_domain(remaining, { 'vc-partners.example', 'seedcapital.example' })
    + remaining:contain_from('paolo.ferri@angeli-lombardi.example'))
local bank = from_domain(remaining, { 'bancaverdi.example' })
decide('strategic', bank - list(bank))
decide('strategic', remaining:contain_field('X-Trasporto', 'posta-certificata'))
decide('strategic', from_domain(remaining, { 'atelier-moretti.example', 'nordlicht-moebel.example' }))

-- 20-delegable.toml
local automatic = auto(remaining)
decide('noise', automatic:contain_from('mailer-daemon@') + automatic:contain_from('postmaster@'))
decide('noise', automatic * remaining)

-- The forwarding rules say list = false: only mail that is not list mail is looked at.
local personal = remaining - list(remaining)
local function subject(words)
    local set = personal * remaining
    return any(words, function(w) return set:contain_subject(w) end)
end
decide('delegable', subject { 'sollecito', 'promemoria di pagamento', 'payment reminder',
    'overdue', 'fattura scaduta' })
decide('delegable', subject { 'fattura', 'fatture', 'invoice', 'ricevuta', 'ricevute',
    'receipt', 'nota di credito', 'credit note' }
    + attachment(personal * remaining, '(fattura|invoice|ricevuta|receipt)', { 'pdf', 'xml', 'p7m' }))
decide('delegable', subject { 'riunion', 'appuntament', 'call', 'meeting', 'disponibilit',
    'availability', 'reschedul', 'invito:', 'invito aggiornato:', 'invitation:' }
    + attachment(personal * remaining, '', { 'ics' }))
decide('delegable', subject { 'ordine', 'order', 'spedizion', 'spedit', 'shipped',
    'shipping', 'tracking', 'corriere' })
decide('delegable', subject { 'prenotazion', 'booking', 'bigliett', 'il tuo volo', 'flight',
    'check-in', 'itinerario', 'itinerary', 'hotel', 'treno', 'train', "carta d'imbarco",
    'carta d’imbarco', 'boarding pass' })
decide('delegable', subject { 'traduzion', 'tradurre', 'translate', 'translation',
    'übersetz', 'перевод' })
-- social-messages is delegable but observed: decided, left in the Inbox.
local social = from_domain(remaining, { 'linkedin.com', 'facebookmail.com', 'instagram.com', 'x.com' })
decide('observed', social:contain_subject('messaggio') + social:contain_subject('message'))

-- 30-noise.toml
decide('noise', from_domain(remaining, { 'linkedin.com', 'facebookmail.com', 'instagram.com',
    'x.com', 'tiktok.com', 'pinterest.com' }))
decide('noise', list(remaining))
decide('noise', any({ 'sconto', 'sconti', 'coupon', 'black friday', 'cyber monday', 'promo' },
        function(w) return remaining:contain_subject(w) end)
    + remaining:match_subject('(?i)(-\\s?\\d+\\s?%|\\d+\\s?% off)')
    + any({ 'unsubscribe', 'disiscriviti', "annulla l'iscrizione", 'non vuoi più ricevere',
        'non desideri più ricevere' }, function(w) return remaining:contain_body(w) end))
decide('noise', any({ 'noreply', 'no-reply', 'notification', 'notifiche', 'avvisi',
    'donotreply', 'do-not-reply' }, function(w) return remaining:contain_from(w) end))

noise:move_messages(account.Noise)
delegable:move_messages(account.Delegated)
print(string.format('moved %d to Noise and %d to Delegated', #noise, #delegable))
