package panel

import (
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"duet/crypto"

	"duet/ui/style"
	"duet/ui/words"
)

// TrustStyle is the style a trust state is drawn in (its word always goes
// with it: the colour is never the only sign).
func TrustStyle(st *style.Styles, t crypto.Trust) lipgloss.Style {
	st = styles(st)
	switch t {
	case crypto.TrustVerified:
		return st.Good
	case crypto.TrustNew:
		return st.Warn
	case crypto.TrustKnown, crypto.TrustPinned:
		return st.Neutral
	}
	return st.Dim
}

// HeaderInfo is what the header shows.
type HeaderInfo struct {
	SelfName, PeerName string
	SelfFP, PeerFP     string // grouped form; the header shows the first 4 groups
	Trust              crypto.Trust
	Encrypted          bool // a session is up
	Ended              bool // not Encrypted, but a session was up earlier in this run
	Changed            bool // the peer's key changed in this run (and was accepted if Trust is new)
	// PostQuantum: the session up has keys from an ML-KEM exchange. The
	// header says "post-quantum" only while Encrypted is also true: no
	// session, no claim.
	PostQuantum bool
}

// PostQuantumWord is the header's word for a session whose keys depend on
// an ML-KEM-768 exchange: a word, never only a colour, so it reads the
// same under NO_COLOR.
const PostQuantumWord = "post-quantum"

// ShortFP returns the first 4 groups of a grouped fingerprint
// ("1a2b 3c4d 5e6f 7a8b"), sanitized. A fingerprint given without spaces is
// grouped first.
func ShortFP(fp string) string {
	g := fpGroups(fp)
	if len(g) > 4 {
		g = g[:4]
	}
	return strings.Join(g, " ")
}

// fpGroups splits a fingerprint into its groups of 4 hex digits. One given
// without spaces is cut into groups of 4 characters.
func fpGroups(fp string) []string {
	fields := strings.Fields(clean(fp))
	if len(fields) != 1 || utf8.RuneCountInString(fields[0]) <= 4 {
		return fields
	}
	r := []rune(fields[0])
	var g []string
	for len(r) > 4 {
		g = append(g, string(r[:4]))
		r = r[4:]
	}
	return append(g, string(r))
}

// maxNameCells caps a name in the header so the rest stays visible.
const maxNameCells = 24

// Header renders the one-row top bar: our name and short fingerprint, the
// peer's, the peer key's trust in words that say whose key it is ("bob's
// key changed"), and whether a session is up ("encrypted", "not encrypted
// yet" before the first one, "no session" after one ended), followed by
// "post-quantum" while the session up has keys from an ML-KEM exchange.
// When narrow it drops, in this order: our fingerprint, the peer's
// fingerprint, "post-quantum", the encryption word, our name; the peer's
// name and the trust word stay (cut only when even they do not fit).
func Header(st *style.Styles, width int, h HeaderInfo) string {
	st = styles(st)
	name := func(s, unset string) string {
		s = clean(s)
		if s == "" {
			s = unset
		}
		return ansi.Truncate(s, maxNameCells, ellipsis)
	}
	enc, encStyle := "not encrypted yet", st.Warn
	if h.Ended {
		enc = words.StatusNoSession
	}
	if h.Encrypted {
		enc, encStyle = "encrypted", st.Good
	}
	peerFP := ShortFP(h.PeerFP)
	segs := []seg{
		{text: name(h.SelfName, "me"), style: st.HeaderName, drop: 4},
		{text: ShortFP(h.SelfFP), style: st.Dim, drop: 9, sep: " "},
		{text: name(h.PeerName, "peer"), style: st.HeaderName, sep: " ⇄ "},
		{text: peerFP, style: st.Dim, drop: 8, sep: " "},
		{text: words.PeerTrust(name(h.PeerName, "peer"), h.Trust, h.Changed), style: TrustStyle(st, h.Trust), sep: " · "},
		{text: enc, style: encStyle, drop: 5, sep: " · "},
	}
	if h.Encrypted && h.PostQuantum {
		segs = append(segs, seg{text: PostQuantumWord, style: st.Good, drop: 6, sep: " · "})
	}
	return bar(st.Header, segs, width)
}
